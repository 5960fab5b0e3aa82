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

class InvalidArgumentError(Error): ...
class NotFoundError(Error): ...
class CorruptError(Error): ...
class IoError(Error): ...
class TimeoutError(Error, builtins.TimeoutError): ...
class ClosedError(Error): ...
class NotInitializedError(Error): ...
class AlreadyInitializedError(Error): ...
class TooLargeError(Error): ...
class ProtocolError(Error): ...
class UnauthenticatedError(Error): ...
class UnavailableError(Error): ...
class QueueFullError(Error): ...
class ConflictError(Error): ...
class PermissionDeniedError(Error): ...
class NoSpaceError(Error): ...

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
