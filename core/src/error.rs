//! The one error type of modsynclog.
//!
//! Every fallible call in the core returns [`Error`]. Its [`ErrorKind`] is stable: each kind
//! has a numeric [`code`](ErrorKind::code) that the C ABI returns, that names a Python
//! exception class and that Node puts in `error.code`. New kinds may be added (the enum is
//! non-exhaustive) but a code is never reused or renumbered.

use std::fmt;
use std::path::Path;

/// What went wrong, in a form a program can act on.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A caller passed a value that cannot be accepted (bad date, bad option, wrong type).
    InvalidArgument,
    /// A day, folder or file that was asked for does not exist.
    NotFound,
    /// Files on disk or bytes on the wire do not follow the format.
    Corrupt,
    /// The operating system failed an I/O call.
    Io,
    /// A wait ran out of time.
    Timeout,
    /// The object was closed, or the process is stopping.
    Closed,
    /// The global SDK was used before `init`.
    NotInitialized,
    /// `init` was called again with a different address.
    AlreadyInitialized,
    /// A record, frame or batch exceeds a configured limit.
    TooLarge,
    /// The peer broke the protocol (unexpected message, wrong send-flag).
    Protocol,
    /// A token was missing or wrong.
    Unauthenticated,
    /// The server cannot be reached or refused the request for now.
    Unavailable,
    /// A bounded queue stayed full past its timeout.
    QueueFull,
    /// The request conflicts with the current state (store locked, out-of-order append).
    Conflict,
    /// The credentials are valid but do not allow this (a write token used to read, an
    /// address outside the legacy allow-list).
    PermissionDenied,
    /// The disk (or the quota) is full: `ENOSPC` / `EDQUOT`. Temporary: writes succeed again
    /// once space is freed. A producer keeps its records and retries (see [`crate::sdk`]).
    NoSpace,
}

impl ErrorKind {
    /// Every kind, in code order. Bindings use this to generate their per-kind classes.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::Corrupt,
        ErrorKind::Io,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::NotInitialized,
        ErrorKind::AlreadyInitialized,
        ErrorKind::TooLarge,
        ErrorKind::Protocol,
        ErrorKind::Unauthenticated,
        ErrorKind::Unavailable,
        ErrorKind::QueueFull,
        ErrorKind::Conflict,
        ErrorKind::PermissionDenied,
        ErrorKind::NoSpace,
    ];

    /// The stable number of this kind. `0` is reserved for "no error" in the C ABI.
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => 1,
            ErrorKind::NotFound => 2,
            ErrorKind::Corrupt => 3,
            ErrorKind::Io => 4,
            ErrorKind::Timeout => 5,
            ErrorKind::Closed => 6,
            ErrorKind::NotInitialized => 7,
            ErrorKind::AlreadyInitialized => 8,
            ErrorKind::TooLarge => 9,
            ErrorKind::Protocol => 10,
            ErrorKind::Unauthenticated => 11,
            ErrorKind::Unavailable => 12,
            ErrorKind::QueueFull => 13,
            ErrorKind::Conflict => 14,
            ErrorKind::PermissionDenied => 15,
            ErrorKind::NoSpace => 16,
        }
    }

    /// The stable name of this kind, as used for exception classes (`CorruptError`...).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Corrupt => "Corrupt",
            ErrorKind::Io => "Io",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Closed => "Closed",
            ErrorKind::NotInitialized => "NotInitialized",
            ErrorKind::AlreadyInitialized => "AlreadyInitialized",
            ErrorKind::TooLarge => "TooLarge",
            ErrorKind::Protocol => "Protocol",
            ErrorKind::Unauthenticated => "Unauthenticated",
            ErrorKind::Unavailable => "Unavailable",
            ErrorKind::QueueFull => "QueueFull",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::NoSpace => "NoSpace",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error: a kind, a message for people, and the underlying cause when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), source: None }
    }

    /// An I/O failure on `path`; the message names the file and the OS error. A full disk
    /// or quota (`ENOSPC`, `EDQUOT`) is [`ErrorKind::NoSpace`], and its message says so.
    pub fn io(path: &Path, what: &str, err: std::io::Error) -> Self {
        let quota = err.kind() == std::io::ErrorKind::QuotaExceeded || err.raw_os_error() == Some(libc::EDQUOT);
        let full = err.kind() == std::io::ErrorKind::StorageFull || err.raw_os_error() == Some(libc::ENOSPC);
        let (kind, message) = if quota || full {
            let what_is_full = if quota { "the disk quota is full" } else { "the disk is full" };
            (ErrorKind::NoSpace, format!("{what} {}: {what_is_full} ({err})", path.display()))
        } else if err.kind() == std::io::ErrorKind::NotFound {
            (ErrorKind::NotFound, format!("{what} {}: {err}", path.display()))
        } else {
            (ErrorKind::Io, format!("{what} {}: {err}", path.display()))
        };
        Error { kind, message, source: Some(Box::new(err)) }
    }

    /// Damage found in `path`.
    pub fn corrupt(path: &Path, detail: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Corrupt, format!("{}: {detail}", path.display()))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying cannot help: the server refused the credentials
    /// (`Unauthenticated`) or what they allow (`PermissionDenied`).
    pub fn is_auth(&self) -> bool {
        matches!(self.kind, ErrorKind::Unauthenticated | ErrorKind::PermissionDenied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_unique() {
        let codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes, (1..=16).collect::<Vec<_>>());
        let names: std::collections::HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert_eq!((ErrorKind::NoSpace.code(), ErrorKind::NoSpace.name()), (16, "NoSpace"));
    }

    #[test]
    fn a_full_disk_or_quota_is_no_space() {
        let path = Path::new("/x/data000000");
        for err in [
            std::io::Error::from_raw_os_error(libc::ENOSPC),
            std::io::Error::from_raw_os_error(libc::EDQUOT),
            std::io::Error::from(std::io::ErrorKind::StorageFull),
            std::io::Error::from(std::io::ErrorKind::QuotaExceeded),
        ] {
            let e = Error::io(path, "write", err);
            assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
            assert!(e.to_string().starts_with("write /x/data000000: the disk "), "{e}");
            assert!(e.to_string().contains(" is full ("), "{e}");
        }
        let e = Error::io(path, "write", std::io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(e.kind(), ErrorKind::Io);
    }

    #[test]
    fn io_not_found_maps_to_not_found() {
        let e = Error::io(Path::new("/x/index"), "open", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().starts_with("open /x/index: "), "{e}");
    }
}
