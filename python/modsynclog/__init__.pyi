"""Typed API of modsynclog (checked against the module by tests/test_stubs.py)."""

import builtins
import datetime
import os
from types import TracebackType
from typing import Iterator, Optional, Tuple, Type, Union

_Data = Union[bytes, bytearray, memoryview, str]
_Path = Union[str, "os.PathLike[str]"]

__version__: str
TYPE_DB_LOG: int
TYPE_APP_LOG: int
TYPE_JSON_LOG: int
CLOSE_TIMEOUT: float

class Error(Exception):
    """Base class of every modsynclog error; `code` is the stable error code."""

    code: int

# The error kinds' classes, generated from the core's list (core/src/error.rs) by
# `MSL_BLESS=1 cargo test -p modsynclog-ffi --test kinds`: BEGIN error kinds (do not edit)
class InvalidArgumentError(Error):
    """A caller passed a value that cannot be accepted (bad date, bad option, wrong type). Code 1."""

class NotFoundError(Error):
    """A day, folder or file that was asked for does not exist. Code 2."""

class CorruptError(Error):
    """Files on disk or bytes on the wire do not follow the format. Code 3."""

class IoError(Error):
    """The operating system failed an I/O call. Code 4."""

class TimeoutError(Error, builtins.TimeoutError):
    """A wait ran out of time. Code 5."""

class ClosedError(Error):
    """The object was closed, or the process is stopping. Code 6."""

class NotInitializedError(Error):
    """The global SDK was used before `init`. Code 7."""

class AlreadyInitializedError(Error):
    """`init` was called again with a different address. Code 8."""

class TooLargeError(Error):
    """A record, frame or batch exceeds a configured limit. Code 9."""

class ProtocolError(Error):
    """The peer broke the protocol (unexpected message, wrong send-flag). Code 10."""

class UnauthenticatedError(Error):
    """A token was missing or wrong. Code 11."""

class UnavailableError(Error):
    """The server cannot be reached or refused the request for now. Code 12."""

class QueueFullError(Error):
    """A bounded queue stayed full past its timeout. Code 13."""

class ConflictError(Error):
    """The request conflicts with the current state (store locked, out-of-order append). Code 14."""

class PermissionDeniedError(Error):
    """The credentials are valid but do not allow this (a write token used to read, an address outside the legacy allow-list). Code 15."""

class NoSpaceError(Error):
    """The disk (or the quota) is full: `ENOSPC` / `EDQUOT`. Temporary: writes succeed again once space is freed. A producer keeps its records and retries (see the `sdk` module). Code 16."""

# END error kinds

def init(
    addr: str,
    *,
    token: Optional[str] = None,
    batch_max_records: Optional[int] = None,
    batch_max_bytes: Optional[int] = None,
    linger_ms: Optional[int] = None,
    queue_capacity: Optional[int] = None,
    queue_bytes: Optional[int] = None,
    enqueue_timeout: Optional[float] = None,
    max_record_len: Optional[int] = None,
    legacy: bool = False,
    tls_ca_file: Optional[_Path] = None,
    tls_cert_file: Optional[_Path] = None,
    tls_key_file: Optional[_Path] = None,
    tls_server_name: Optional[str] = None,
) -> None:
    """Starts the process-wide producer (same address again: no-op; another: AlreadyInitializedError).

    `addr`: ``host:port`` or ``http://host:port`` (plaintext), ``https://host:port`` (TLS).
    The options are those of `Producer`."""

def commit(type: int, data: _Data) -> None:
    """Queues one record on the global producer (str is sent as UTF-8); on a full queue
    waits (GIL released) up to `enqueue_timeout`, then raises QueueFullError. Raises
    NoSpaceError at once (nothing queued) while the server reports a full disk."""

def try_commit(type: int, data: _Data) -> None:
    """Like `commit`, but never waits: QueueFullError at once when the queue is full."""

def flush(timeout: Optional[float] = None) -> None:
    """Waits until everything committed is acknowledged; TimeoutError after `timeout` seconds.
    NoSpaceError at once while the server reports a full disk (records kept and retried)."""

def close(timeout: Optional[float] = 10.0) -> None:
    """Flushes (up to `timeout` seconds) and stops the global producer for good."""

class Producer:
    def __init__(
        self,
        addr: str,
        *,
        token: Optional[str] = None,
        batch_max_records: Optional[int] = None,
        batch_max_bytes: Optional[int] = None,
        linger_ms: Optional[int] = None,
        queue_capacity: Optional[int] = None,
        queue_bytes: Optional[int] = None,
        enqueue_timeout: Optional[float] = None,
        max_record_len: Optional[int] = None,
        legacy: bool = False,
        tls_ca_file: Optional[_Path] = None,
        tls_cert_file: Optional[_Path] = None,
        tls_key_file: Optional[_Path] = None,
        tls_server_name: Optional[str] = None,
    ) -> None: ...
    def commit(self, type: int, data: _Data) -> None: ...
    def try_commit(self, type: int, data: _Data) -> None: ...
    def flush(self, timeout: Optional[float] = None) -> None: ...
    def close(self, timeout: Optional[float] = 10.0) -> None: ...
    def progress(self) -> Tuple[int, int]: ...
    def __enter__(self) -> "Producer": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Record:
    @property
    def date(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def time(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    def __repr__(self) -> str: ...

class Reader:
    def __init__(
        self,
        dir: _Path,
        date: Union[str, datetime.date, None] = None,
        id: int = 0,
        follow: bool = False,
    ) -> None: ...
    def next(self, timeout: Optional[float] = None) -> Optional[Record]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __iter__(self) -> Iterator[Record]: ...
    def __next__(self) -> Record: ...
    def __enter__(self) -> "Reader": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
