"""The exception classes: one per core ErrorKind, with stable codes."""

from __future__ import annotations

import builtins

import modsynclog

KINDS = [
    "InvalidArgument", "NotFound", "Corrupt", "Io", "Timeout", "Closed", "NotInitialized",
    "AlreadyInitialized", "TooLarge", "Protocol", "Unauthenticated", "Unavailable", "QueueFull",
    "Conflict", "PermissionDenied", "NoSpace",
]


def test_hierarchy_and_codes() -> None:
    assert issubclass(modsynclog.Error, Exception)
    for code, kind in enumerate(KINDS, start=1):
        cls = getattr(modsynclog, f"{kind}Error")
        assert issubclass(cls, modsynclog.Error)
        assert cls.code == code
        assert cls.__module__ == "modsynclog"
        assert cls.__name__ == f"{kind}Error"
    assert issubclass(modsynclog.TimeoutError, builtins.TimeoutError)
    assert modsynclog.TimeoutError is not builtins.TimeoutError
    e = modsynclog.NotFoundError("x")
    assert e.code == 2 and str(e) == "x"


def test_module_classes() -> None:
    for cls in (modsynclog.Producer, modsynclog.Reader, modsynclog.Record):
        assert cls.__module__ == "modsynclog"
