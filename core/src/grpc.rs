//! The gRPC face of the core [`Error`]: the status a server answers with.

use tonic::Status;

use crate::error::{Error, ErrorKind};

/// The gRPC status for a core error; the numeric kind travels in `modsynclog-error-code`.
pub fn status_from(e: &Error) -> Status {
    let mut status = match e.kind() {
        ErrorKind::InvalidArgument => Status::invalid_argument(e.to_string()),
        ErrorKind::TooLarge | ErrorKind::QueueFull => Status::resource_exhausted(e.to_string()),
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
