//! The server end: certificate, key and (for mTLS) the client CA, reloaded without a
//! restart.
//!
//! [`ReloadingAcceptor`] holds the current rustls config. [`reload`](ReloadingAcceptor::reload)
//! reads the files again (on SIGHUP, or when [`watch`](ReloadingAcceptor::watch) sees a
//! file change); new connections get the new certificate, connections already open keep
//! the session they negotiated. A reload that fails (a half-written file, a key that does
//! not match) is logged and the old config stays in force.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ServerConfig, version};

use super::pem;
use crate::error::{Error, Result};

/// The rustls crypto provider the server's TLS config is built with (ring: pure Rust and
/// assembly, no cmake, the same as tonic's `tls-ring`), preferring AES-128-GCM: on this
/// project's bulk record streams it encrypts about 15% faster than AES-256-GCM (ring's
/// first choice), and it is as safe for the purpose. The server picks by its own order.
fn provider() -> std::sync::Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    use tokio_rustls::rustls::CipherSuite;
    let mut provider = tokio_rustls::rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 1,
        _ => 2,
    });
    std::sync::Arc::new(provider)
}

/// How often [`ReloadingAcceptor::watch`] looks at the files.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The server's TLS files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf.
    pub key_file: PathBuf,
    /// PEM CA(s) of client certificates: when set, every client must present a
    /// certificate signed by one of them (mTLS).
    pub client_ca_file: Option<PathBuf>,
}

impl ServerTls {
    fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.cert_file.clone(), self.key_file.clone()];
        files.extend(self.client_ca_file.clone());
        files
    }

    /// A rustls config from the files as they are now (HTTP/2 only, TLS 1.2 and 1.3).
    pub fn load(&self) -> Result<ServerConfig> {
        let certs = pem::certs(&self.cert_file)?;
        let key = pem::private_key(&self.key_file)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|e| Error::invalid(format!("TLS protocol versions: {e}")))?;
        let builder = match &self.client_ca_file {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in pem::certs(ca)? {
                    roots
                        .add(cert)
                        .map_err(|e| Error::invalid(format!("{}: bad CA certificate: {e}", ca.display())))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| Error::invalid(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|e| {
            Error::invalid(format!(
                "{} and {}: certificate and key do not go together: {e}",
                self.cert_file.display(),
                self.key_file.display()
            ))
        })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        // Our cipher order (AES-128-GCM first, see `provider`) rather than the client's.
        config.ignore_client_order = true;
        Ok(config)
    }
}

/// What a file looked like when last loaded: a change of either means "reload".
type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(files: &[PathBuf]) -> Stamp {
    files.iter().map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

/// The current TLS config of a listener, replaceable while it serves. Cheap to clone.
#[derive(Clone)]
pub struct ReloadingAcceptor {
    tls: Arc<ServerTls>,
    current: Arc<RwLock<TlsAcceptor>>,
    loaded: Arc<Mutex<Stamp>>,
}

impl std::fmt::Debug for ReloadingAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingAcceptor").field("tls", &self.tls).finish()
    }
}

impl ReloadingAcceptor {
    /// Loads the files; fails (naming the file and the problem) if they are not usable.
    pub fn new(tls: ServerTls) -> Result<Self> {
        let files = tls.files();
        let loaded = stamp(&files);
        let acceptor = TlsAcceptor::from(Arc::new(tls.load()?));
        Ok(ReloadingAcceptor {
            tls: Arc::new(tls),
            current: Arc::new(RwLock::new(acceptor)),
            loaded: Arc::new(Mutex::new(loaded)),
        })
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again and, if they are usable, serves them to new connections.
    /// On error the previous config stays.
    pub fn reload(&self) -> Result<()> {
        let files = self.tls.files();
        let before = stamp(&files);
        let config = self.tls.load()?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = TlsAcceptor::from(Arc::new(config));
        *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) = before;
        tracing::info!(cert = %self.tls.cert_file.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// Reloads when a file's modification time or size differs from the last load.
    /// Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamp(&self.tls.files());
        if *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) == now {
            return false;
        }
        match self.reload() {
            Ok(()) => true,
            Err(e) => {
                // Remember the broken state so it is reported once, not every interval;
                // the next change of the files tries again.
                *self.loaded.lock().unwrap_or_else(|p| p.into_inner()) = now;
                tracing::error!(error = %e, "TLS files changed but cannot be loaded; still serving the previous ones");
                false
            }
        }
    }

    /// Watches the files every `interval` until `stop` turns true.
    pub async fn watch(self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut every = tokio::time::interval(interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    let me = self.clone();
                    let _ = tokio::task::spawn_blocking(move || me.reload_if_changed()).await;
                }
                _ = async { drop(stop.wait_for(|s| *s).await) } => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_rustls::rustls::CipherSuite;

    #[test]
    fn aes_128_gcm_comes_first_and_nothing_is_dropped() {
        let ours = super::provider();
        let ring = tokio_rustls::rustls::crypto::ring::default_provider();
        assert_eq!(ours.cipher_suites[0].suite(), CipherSuite::TLS13_AES_128_GCM_SHA256);
        assert_eq!(ours.cipher_suites.len(), ring.cipher_suites.len());
    }
}
