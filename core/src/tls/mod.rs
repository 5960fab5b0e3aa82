//! TLS for the gRPC port, both ends, with rustls (ring provider; no OpenSSL).
//!
//! - [`client`]: what every client (SDK producer, replica, `status`, `send`) needs to
//!   reach `https://host:port`: a CA file, an optional client certificate and key, an
//!   optional server-name override ([`ClientTls`]), turned into a tonic `Endpoint`;
//! - [`server`]: the server's certificate and key, and the client CA that turns on mTLS
//!   ([`ServerTls`]), reloaded from disk without a restart ([`ReloadingAcceptor`]); only
//!   with the `server` feature;
//! - [`pem`]: reading PEM files with errors that name the file.
//!
//! The legacy sync socket stays plain TCP: the original Go replicas cannot speak TLS.

pub mod client;
pub mod pem;
#[cfg(feature = "server")]
pub mod server;

pub use client::{ClientTls, endpoint, explain_transport_error, from_transport, status_detail};
#[cfg(feature = "server")]
pub use server::{ReloadingAcceptor, ServerTls};
