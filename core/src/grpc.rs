//! The gRPC face of the core [`Error`]: the status a server answers with.

use tonic::Status;

use crate::error::{Error, ErrorKind};

/// The gRPC status for a core error; the numeric kind travels in `modsynclog-error-code`.
pub fn status_from(e: &Error) -> Status {
    crate::metrics::errors::count(e.kind());
    let mut status = match e.kind() {
        ErrorKind::InvalidArgument => Status::invalid_argument(e.to_string()),
        // `NoSpace` too: a full disk is an exhausted resource; the kind in the metadata tells
        // a producer to keep its records and retry rather than drop them as too large.
        ErrorKind::TooLarge | ErrorKind::QueueFull | ErrorKind::NoSpace => Status::resource_exhausted(e.to_string()),
        ErrorKind::Closed | ErrorKind::Unavailable => Status::unavailable(e.to_string()),
        ErrorKind::Unauthenticated => Status::unauthenticated(e.to_string()),
        ErrorKind::PermissionDenied => Status::permission_denied(e.to_string()),
        ErrorKind::Timeout => Status::deadline_exceeded(e.to_string()),
        ErrorKind::Conflict => Status::failed_precondition(e.to_string()),
        _ => Status::internal(e.to_string()),
    };
    status.metadata_mut().insert("modsynclog-error-code", e.code().into());
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_is_resource_exhausted_with_its_kind() {
        let status = status_from(&Error::new(ErrorKind::NoSpace, "write /d/data000000: the disk is full"));
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let sent = status.metadata().get("modsynclog-error-code").and_then(|v| v.to_str().ok());
        assert_eq!(sent, Some("16"));
    }

    #[test]
    fn every_kind_travels_in_the_metadata() {
        for kind in ErrorKind::ALL {
            let status = status_from(&Error::new(kind, "x"));
            let sent = status.metadata().get("modsynclog-error-code").and_then(|v| v.to_str().ok());
            assert_eq!(sent, Some(kind.code().to_string().as_str()), "{kind}");
        }
    }
}
