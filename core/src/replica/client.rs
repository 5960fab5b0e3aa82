//! The gRPC side of the native replica: connecting to `modsynclog.v1.Sync` with the
//! bearer token and gzip, asking for the server's status, and mapping statuses to errors.

use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::v1::StatusRequest;
use crate::tls::ClientTls;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings on an idle connection, so a server that vanished is noticed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest event the replica accepts: the server's batches stay under 4 MiB, but a
/// single record larger than that is sent alone.
pub const MAX_EVENT_LEN: usize = 256 << 20;

/// A `modsynclog.v1.Sync` client that sends the bearer token with every call.
pub type SyncClient = crate::proto::v1::sync_client::SyncClient<InterceptedService<Channel, TokenInterceptor>>;

/// Adds `authorization: Bearer <token>` to every call (nothing without a token).
#[derive(Debug, Clone, Default)]
pub struct TokenInterceptor {
    header: Option<MetadataValue<Ascii>>,
}

impl TokenInterceptor {
    /// Fails with [`ErrorKind::InvalidArgument`] if the token cannot travel in a header.
    pub fn new(token: Option<&str>) -> Result<Self> {
        let header = match token {
            Some(t) => {
                let mut v: MetadataValue<Ascii> = format!("Bearer {t}")
                    .parse()
                    .map_err(|_| Error::invalid("the token is not valid in a gRPC header"))?;
                // Kept out of HPACK tables and Debug output.
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(TokenInterceptor { header })
    }
}

impl Interceptor for TokenInterceptor {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        if let Some(h) = &self.header {
            request.metadata_mut().insert("authorization", h.clone());
        }
        Ok(request)
    }
}

/// Connects to the sync service at `server` (`host:port`, `http://` or `https://`).
pub async fn connect(server: &str, token: Option<&str>, tls: &ClientTls) -> Result<SyncClient> {
    let interceptor = TokenInterceptor::new(token)?;
    let endpoint = crate::tls::endpoint(server, tls)?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let channel = endpoint.connect().await.map_err(|e| {
        Error::new(ErrorKind::Unavailable, format!("connect {server}: {}", crate::tls::explain_transport_error(&e)))
    })?;
    Ok(crate::proto::v1::sync_client::SyncClient::with_interceptor(channel, interceptor)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_EVENT_LEN))
}

/// One day as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayState {
    pub date: Date,
    pub count: u64,
    pub finished: bool,
}

/// Asks a connected server for every day it holds, oldest first.
pub async fn status_of(client: &mut SyncClient) -> Result<Vec<DayState>> {
    let days = client.status(StatusRequest {}).await.map_err(|s| error_from_status(&s))?.into_inner().days;
    let mut out = days
        .into_iter()
        .map(|d| {
            let date = Date::parse(&d.date)
                .map_err(|e| Error::new(ErrorKind::Protocol, format!("the server reported a bad day: {e}")))?;
            Ok(DayState { date, count: d.count, finished: d.finished })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|d| d.date);
    Ok(out)
}

/// Connects to `server` and asks for its days (the `status --server` command).
pub async fn server_status(server: &str, token: Option<&str>, tls: &ClientTls) -> Result<Vec<DayState>> {
    status_of(&mut connect(server, token, tls).await?).await
}

/// The core error for a gRPC status from the server. A status made on this side from a
/// transport failure ([`crate::tls::from_transport`]) is `Unavailable`: only the server's
/// own verdict ends the replica.
pub fn error_from_status(status: &Status) -> Error {
    let kind = match status.code() {
        _ if crate::tls::from_transport(status) => ErrorKind::Unavailable,
        Code::Unauthenticated => ErrorKind::Unauthenticated,
        Code::PermissionDenied => ErrorKind::PermissionDenied,
        Code::InvalidArgument => ErrorKind::InvalidArgument,
        Code::FailedPrecondition => ErrorKind::Conflict,
        Code::ResourceExhausted => ErrorKind::TooLarge,
        Code::DeadlineExceeded => ErrorKind::Timeout,
        Code::NotFound => ErrorKind::NotFound,
        Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    };
    Error::new(kind, format!("server: {} ({:?})", crate::tls::status_detail(status), status.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_statuses() {
        assert_eq!(error_from_status(&Status::unauthenticated("no")).kind(), ErrorKind::Unauthenticated);
        assert_eq!(error_from_status(&Status::failed_precondition("x")).kind(), ErrorKind::Conflict);
        let mut reset = Status::permission_denied("h2 protocol error");
        reset.set_source(std::sync::Arc::new(std::io::Error::other("INADEQUATE_SECURITY")));
        assert_eq!(error_from_status(&reset).kind(), ErrorKind::Unavailable, "a reset is not the server's verdict");
        assert!(TokenInterceptor::new(Some("bad\ntoken")).is_err());
        let mut t = TokenInterceptor::new(Some("s3cret")).unwrap();
        let req = t.call(Request::new(())).unwrap();
        assert_eq!(req.metadata().get("authorization").unwrap(), "Bearer s3cret");
    }
}
