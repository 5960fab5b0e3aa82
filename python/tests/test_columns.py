"""Reader.next_columns and Columns: batches hold exactly the records a plain scan returns,
one day per batch, within the limits asked; following readers wait as next() does."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import pytest

import modsynclog
from conftest import Server

Row = tuple[str, int, int, int, bytes]


def row(r: modsynclog.Record) -> Row:
    return (r.date, r.id, r.time, r.type, r.data)


def scan(data_dir: Path) -> list[Row]:
    return [row(r) for r in modsynclog.Reader(data_dir)]


def day_folders(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 8)


@pytest.fixture
def two_days(start_server: Callable[..., Server]) -> Path:
    """A store of two days: 300 records written by one server, moved to 2001-01-01, then
    200 written today by another (a server writes only today's day)."""
    old, new = start_server(), start_server()
    for srv, day, n in ((old, "old", 300), (new, "new", 200)):
        with modsynclog.Producer(srv.addr) as p:
            for i in range(n):
                # Sizes 0..12 bytes (some empty payloads), types spread over the i16 range.
                p.commit(i * 997 % 65536 - 32768, (b"%s-%d" % (day.encode(), i))[: i % 13])
        srv.stop()
    (folder,) = day_folders(old.data_dir)
    folder.rename(new.data_dir / "20010101")
    assert len(day_folders(new.data_dir)) == 2
    return new.data_dir


def check_batch(cols: modsynclog.Columns, max_records: int) -> list[Row]:
    """The batch's rows, checking its shape on the way."""
    n = len(cols)
    assert 1 <= n <= max_records
    assert cols.ids == range(cols.first_id, cols.first_id + n)
    assert (cols.times.format, cols.types.format, cols.offsets.format) == ("i", "h", "I")
    assert (len(cols.times), len(cols.types), len(cols.offsets)) == (n, n, n + 1)
    assert cols.times.readonly and cols.types.readonly and cols.offsets.readonly
    assert cols.offsets[0] == 0 and cols.offsets[n] == len(cols.data)
    assert isinstance(cols.data, bytes)
    rows = [
        (cols.date, cols.first_id + i, cols.times[i], cols.types[i], cols.data[cols.offsets[i] : cols.offsets[i + 1]])
        for i in range(n)
    ]
    # Record i (also from the end, and by iteration) is row i.
    assert [row(cols[i]) for i in range(n)] == rows
    assert [row(r) for r in cols] == rows
    assert row(cols[-1]) == rows[-1] and row(cols[-n]) == rows[0]
    for bad in (n, -n - 1):
        with pytest.raises(IndexError):
            cols[bad]
    return rows


def test_batches_equal_a_record_scan(two_days: Path) -> None:
    want = scan(two_days)
    assert len(want) == 500 and len({r[0] for r in want}) == 2
    for max_records, max_bytes in ((1, 1 << 20), (7, 1 << 20), (64, 50), (16384, 1 << 20), (1000, 1)):
        reader = modsynclog.Reader(two_days)
        got: list[Row] = []
        batches = 0
        while (cols := reader.next_columns(max_records=max_records, max_bytes=max_bytes)) is not None:
            rows = check_batch(cols, max_records)
            # Payloads stop being taken once they reach max_bytes.
            assert cols.offsets[len(cols) - 1] < max_bytes
            got += rows
            batches += 1
        assert got == want, (max_records, max_bytes)
        assert reader.next_columns() is None and reader.next() is None
        if max_records == 16384:
            assert batches == 2  # one per day: a batch never spans two days
        if max_bytes == 1:
            # A record with a payload ends its batch; empty ones (0 bytes < 1) do not.
            assert batches >= sum(1 for r in want if r[4]) > 400


def test_mixing_next_and_next_columns(two_days: Path) -> None:
    want = scan(two_days)
    reader = modsynclog.Reader(two_days)
    got: list[Row] = []
    for step in range(10_000):
        if step % 2:
            r = reader.next()
            if r is None:
                break
            got.append(row(r))
        else:
            cols = reader.next_columns(max_records=11)
            if cols is None:
                break
            got += check_batch(cols, 11)
    assert got == want


def test_columns_object(two_days: Path) -> None:
    cols = modsynclog.Reader(two_days).next_columns(max_records=5)
    assert cols is not None
    assert cols.date == "2001-01-01" and cols.first_id == 0 and len(cols) == 5
    assert repr(cols) == f"Columns(date='2001-01-01', first_id=0, len=5, data={len(cols.data)} bytes)"
    assert cols.times is cols.times  # made once, not per access
    with pytest.raises(AttributeError):
        cols.first_id = 3  # type: ignore[misc]
    assert cols.times.tolist() == [cols[i].time for i in range(5)]
    if sys.byteorder == "little":
        assert cols.types.obj[:2] == cols[0].type.to_bytes(2, "little", signed=True)


def test_bad_limits(two_days: Path) -> None:
    reader = modsynclog.Reader(two_days)
    for kwargs in ({"max_records": 0}, {"max_bytes": 0}):
        with pytest.raises(modsynclog.InvalidArgumentError):
            reader.next_columns(**kwargs)
    with pytest.raises(OverflowError):
        reader.next_columns(max_records=-1)
    with pytest.raises(modsynclog.InvalidArgumentError):
        reader.next_columns(timeout=-1.0)
    cols = reader.next_columns()
    assert cols is not None and cols.first_id == 0  # nothing was read by the refused calls


def test_numpy_shares_the_memory(two_days: Path) -> None:
    np = pytest.importorskip("numpy")
    cols = modsynclog.Reader(two_days).next_columns()
    assert cols is not None
    times = np.frombuffer(cols.times, np.int32)
    assert times.tolist() == cols.times.tolist() and not times.flags.owndata
    assert np.frombuffer(cols.offsets, np.uint32)[-1] == len(cols.data)


def test_follow_timeout_then_a_batch(server: Server) -> None:
    with modsynclog.Producer(server.addr) as p:
        p.commit(1, b"one")
        p.commit(1, b"two")
    with modsynclog.Reader(server.data_dir, follow=True) as reader:
        cols = reader.next_columns(timeout=5)
        assert cols is not None and [r.data for r in cols] == [b"one", b"two"]
        start = time.monotonic()
        assert reader.next_columns(timeout=0.1) is None
        waited = time.monotonic() - start
        assert 0.08 <= waited < 3, waited
        with modsynclog.Producer(server.addr) as p:
            p.commit(2, b"three")
        cols = reader.next_columns(timeout=10)
        assert cols is not None and cols.first_id == 2 and [r.data for r in cols] == [b"three"]
        reader.close()
        assert reader.next_columns(timeout=0.1) is None
