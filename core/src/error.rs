//! The one error type of modsynclog.
//!
//! Every fallible call in the core returns [`Error`]. Its [`ErrorKind`] is stable: each kind
//! has a numeric [`code`](ErrorKind::code) that the C ABI returns, that names a Python
//! exception class and that Node puts in `error.code`. New kinds may be added (the enum is
//! non-exhaustive) but a code is never reused or renumbered.

use std::fmt;
use std::path::Path;

/// Defines [`ErrorKind`] from one list: each kind once, with its doc and its stable code.
/// The enum (whose discriminants are the codes), [`ErrorKind::ALL`], [`ErrorKind::code`],
/// [`ErrorKind::name`] and [`ErrorKind::doc`] all come from it, and so, through them, do
/// the bindings' lists (the C `msl_status`, Go's `kinds_gen.go`, Python's exception classes
/// and stubs, Node's `ErrorCode`; see `ffi-c/tests/kinds.rs`). Adding a kind is one entry
/// here with the next free code.
macro_rules! error_kinds {
    ($($(#[doc = $doc:literal])+ $name:ident = $code:literal,)+) => {
        /// What went wrong, in a form a program can act on.
        #[non_exhaustive]
        #[repr(i32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $($(#[doc = $doc])+ $name = $code,)+
        }

        impl ErrorKind {
            /// Every kind, in code order. Bindings use this to generate their per-kind classes.
            pub const ALL: [ErrorKind; [$(stringify!($name)),+].len()] = [$(ErrorKind::$name),+];

            /// The stable number of this kind. `0` is reserved for "no error" in the C ABI.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// The stable name of this kind, as used for exception classes (`CorruptError`...).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => stringify!($name),)+
                }
            }

            /// What the kind means: its documentation, as written in the source (each line
            /// keeps the space after `///` and ends with a newline). For bindings that
            /// generate their docs from the core.
            pub const fn doc(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => concat!($($doc, "\n"),+),)+
                }
            }
        }
    };
}

error_kinds! {
    /// A caller passed a value that cannot be accepted (bad date, bad option, wrong type).
    InvalidArgument = 1,
    /// A day, folder or file that was asked for does not exist.
    NotFound = 2,
    /// Files on disk or bytes on the wire do not follow the format.
    Corrupt = 3,
    /// The operating system failed an I/O call.
    Io = 4,
    /// A wait ran out of time.
    Timeout = 5,
    /// The object was closed, or the process is stopping.
    Closed = 6,
    /// The global SDK was used before `init`.
    NotInitialized = 7,
    /// `init` was called again with a different address.
    AlreadyInitialized = 8,
    /// A record, frame or batch exceeds a configured limit.
    TooLarge = 9,
    /// The peer broke the protocol (unexpected message, wrong send-flag).
    Protocol = 10,
    /// A token was missing or wrong.
    Unauthenticated = 11,
    /// The server cannot be reached or refused the request for now.
    Unavailable = 12,
    /// A bounded queue stayed full past its timeout.
    QueueFull = 13,
    /// The request conflicts with the current state (store locked, out-of-order append).
    Conflict = 14,
    /// The credentials are valid but do not allow this (a write token used to read, an
    /// address outside the legacy allow-list).
    PermissionDenied = 15,
    /// The disk (or the quota) is full: `ENOSPC` / `EDQUOT`. Temporary: writes succeed again
    /// once space is freed. A producer keeps its records and retries (see the `sdk` module).
    NoSpace = 16,
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

    /// Whether the server refused the batch itself for good (`InvalidArgument`,
    /// `TooLarge`): resending it cannot help, so senders drop it and report it, and the
    /// writer keeps no gap waiting for its resend.
    pub fn is_refusal(&self) -> bool {
        matches!(self.kind, ErrorKind::InvalidArgument | ErrorKind::TooLarge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_unique() {
        // The published numbers: these never change (new kinds are appended).
        let published = [
            "InvalidArgument",
            "NotFound",
            "Corrupt",
            "Io",
            "Timeout",
            "Closed",
            "NotInitialized",
            "AlreadyInitialized",
            "TooLarge",
            "Protocol",
            "Unauthenticated",
            "Unavailable",
            "QueueFull",
            "Conflict",
            "PermissionDenied",
            "NoSpace",
        ];
        for (i, name) in published.iter().enumerate() {
            let kind = ErrorKind::ALL[i];
            assert_eq!((kind.name(), kind.code()), (*name, i as i32 + 1));
            assert_eq!(kind.to_string(), *name);
            assert!(kind.doc().starts_with(' ') && kind.doc().ends_with(".\n"), "{kind}: {:?}", kind.doc());
        }
        let codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "ALL is in code order: {codes:?}");
        assert!(codes[0] > 0, "0 is the C ABI's MSL_OK");
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
