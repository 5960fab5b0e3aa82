//! PEM files: certificate chains and private keys, read with errors that name the file.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, ErrorKind, Result};

/// Every certificate in the PEM file at `path`, in order (leaf first for a chain).
/// `InvalidArgument` when the file holds none.
pub fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("{}: not a PEM certificate file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!("{}: no certificate (PEM `BEGIN CERTIFICATE`) in it", path.display())));
    }
    Ok(certs)
}

/// The private key (PKCS#8, PKCS#1 or SEC1) in the PEM file at `path`.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| Error::invalid(format!("{}: no usable PEM private key in it: {e}", path.display())))
}

/// The file's bytes (PEM text), for APIs that take PEM as is.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Io };
        Error::new(kind, format!("cannot read {}: {e}", path.display())).with_source(e)
    })
}
