"""Reader: missing folders, following with close() from another thread, timeouts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import modsynclog
from conftest import Server


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(modsynclog.NotFoundError) as e:
        modsynclog.Reader(tmp_path / "nope")
    assert e.value.code == 2


def test_bad_date(tmp_path: Path) -> None:
    with pytest.raises(modsynclog.InvalidArgumentError):
        modsynclog.Reader(tmp_path, date="2024-13-01")


def test_empty_folder_ends(tmp_path: Path) -> None:
    r = modsynclog.Reader(tmp_path)
    assert list(r) == []
    assert r.next() is None


def test_from_date_and_id_and_record_attributes(server: Server) -> None:
    with modsynclog.Producer(server.addr) as p:
        for i in range(10):
            p.commit(7, b"r%d" % i)
    server.stop()
    first = next(iter(modsynclog.Reader(server.data_dir)))
    rest = list(modsynclog.Reader(server.data_dir, date=first.date, id=4))
    assert [r.data for r in rest] == [b"r%d" % i for i in range(4, 10)]
    import datetime

    as_date = datetime.date.fromisoformat(first.date)
    assert len(list(modsynclog.Reader(server.data_dir, date=as_date, id=8))) == 2
    assert repr(first).startswith(f"Record(date='{first.date}', id=0, time=")
    assert "data=b'r0'" in repr(first)
    with pytest.raises(AttributeError):
        first.data = b"x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        first.id = 3  # type: ignore[misc]


def test_follow_stopped_by_close_from_another_thread(server: Server) -> None:
    got: list[bytes] = []
    reader = modsynclog.Reader(server.data_dir, follow=True)

    def consume() -> None:
        for rec in reader:
            got.append(rec.data)

    t = threading.Thread(target=consume)
    t.start()
    with modsynclog.Producer(server.addr) as p:
        for i in range(25):
            p.commit(1, b"live-%d" % i)
    deadline = time.monotonic() + 20
    while len(got) < 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got == [b"live-%d" % i for i in range(25)]
    time.sleep(0.2)  # the consumer is now waiting (GIL released) for more
    assert t.is_alive()
    start = time.monotonic()
    reader.close()
    t.join(timeout=5)
    assert not t.is_alive(), "close() did not stop the follower"
    assert time.monotonic() - start < 2
    assert reader.closed and reader.next(timeout=0.1) is None


def test_follow_timeout(server: Server) -> None:
    with modsynclog.Producer(server.addr) as p:
        p.commit(1, b"one")
    with modsynclog.Reader(server.data_dir, follow=True) as reader:
        rec = reader.next(timeout=5)
        assert rec is not None and rec.data == b"one"
        start = time.monotonic()
        assert reader.next(timeout=0.3) is None
        waited = time.monotonic() - start
        assert 0.25 <= waited < 3, waited
        with modsynclog.Producer(server.addr) as p:
            p.commit(1, b"two")
        rec = reader.next(timeout=10)
        assert rec is not None and rec.data == b"two"


def test_follow_releases_the_gil(server: Server) -> None:
    reader = modsynclog.Reader(server.data_dir, follow=True)
    t = threading.Thread(target=lambda: reader.next(timeout=1.0))
    t.start()
    # This thread keeps running Python code while the other one waits.
    n, end = 0, time.monotonic() + 0.5
    while time.monotonic() < end:
        n += 1
    t.join()
    assert n > 10_000
