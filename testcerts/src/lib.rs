//! Certificates for tests, made fresh each run with rcgen (nothing secret is committed).
//!
//! [`TestPki::write`] writes into a folder:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the test CA |
//! | `server.pem`, `server.key` | server certificate for `localhost` and `127.0.0.1`, signed by the CA |
//! | `server2.pem`, `server2.key` | a second server certificate (same names, another key): for reload tests |
//! | `expired.pem`, `expired.key` | a server certificate that expired in 2001 |
//! | `client.pem`, `client.key` | client certificate `CN=ingest-client` (DNS SAN `ingest-client`), signed by the CA |
//! | `reader.pem`, `reader.key` | client certificate `CN=replica-client`, signed by the CA |
//! | `other-ca.pem` | another CA: a client trusting only it must refuse `server.pem` |
//! | `other-server.pem`, `other-server.key` | a server certificate for the same names, signed by the other CA (a reload test swaps it in) |

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};

/// A test CA and what it signed.
pub struct TestPki;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

impl TestPki {
    /// Writes every file of the table above into `dir` (created if missing).
    pub fn write(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let put = |name: &str, text: String| std::fs::write(dir.join(name), text);
        let (ca_pem, ca) = new_ca("modsynclog test CA")?;
        put("ca.pem", ca_pem)?;
        put("ca.key", ca.key().serialize_pem())?;
        let (other_pem, other) = new_ca("some other CA")?;
        put("other-ca.pem", other_pem)?;
        put("other-ca.key", other.key().serialize_pem())?;
        let now_ish = (2020, 2099);
        for (name, validity) in [("server", now_ish), ("server2", now_ish)] {
            let (cert, key) = leaf(&ca, "localhost", &["localhost", "127.0.0.1"], true, validity)?;
            put(&format!("{name}.pem"), cert)?;
            put(&format!("{name}.key"), key)?;
        }
        let (cert, key) = leaf(&other, "localhost", &["localhost", "127.0.0.1"], true, now_ish)?;
        put("other-server.pem", cert)?;
        put("other-server.key", key)?;
        let expired = (2000, 2001);
        let (cert, key) = leaf(&ca, "localhost", &["localhost", "127.0.0.1"], true, expired)?;
        put("expired.pem", cert)?;
        put("expired.key", key)?;
        for (name, cn) in [("client", "ingest-client"), ("reader", "replica-client")] {
            let (cert, key) = leaf(&ca, cn, &[cn], false, now_ish)?;
            put(&format!("{name}.pem"), cert)?;
            put(&format!("{name}.key"), key)?;
        }
        Ok(())
    }
}

fn new_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = date_time_ymd(1999, 1, 1);
    params.not_after = date_time_ymd(2099, 12, 31);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// The years a certificate is valid from (1 January) and until (31 December).
type Validity = (i32, i32);

fn leaf(
    ca: &Issuer<'static, KeyPair>,
    cn: &str,
    names: &[&str],
    server: bool,
    (from, until): Validity,
) -> Result<(String, String)> {
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages.push(KeyUsagePurpose::DigitalSignature);
    params.extended_key_usages.push(if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    });
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(until, 12, 31);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok((cert.pem(), key.serialize_pem()))
}
