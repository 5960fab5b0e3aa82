"""Producer objects against a real server; records read back with Reader after it stops."""

from __future__ import annotations

import threading

import pytest

import modsynclog
from conftest import Server


def test_threads_then_read_back(server: Server) -> None:
    threads, per_thread = 4, 500
    with modsynclog.Producer(server.addr, linger_ms=2) as p:
        def work(t: int) -> None:
            for i in range(per_thread):
                p.commit(100 + t, b"t%d-%d-" % (t, i) + bytes([i % 256]) * (i % 7))

        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        p.flush(timeout=30)
        assert p.progress() == (threads * per_thread, threads * per_thread)
    server.stop()

    records = list(modsynclog.Reader(server.data_dir))
    assert len(records) == threads * per_thread
    for t in range(threads):
        mine = [r for r in records if r.type == 100 + t]
        # each thread's records keep their commit order, with exact bytes
        assert [r.data for r in mine] == [b"t%d-%d-" % (t, i) + bytes([i % 256]) * (i % 7) for i in range(per_thread)]
    dates = {r.date for r in records}
    assert len(dates) == 1 and len(next(iter(dates))) == 10
    assert [r.id for r in records] == list(range(len(records)))
    assert all(isinstance(r.time, int) and r.time > 1_600_000_000 for r in records)


def test_payload_types(server: Server) -> None:
    with modsynclog.Producer(server.addr) as p:
        p.commit(1, b"bytes")
        p.commit(2, bytearray(b"bytearray"))
        p.commit(3, memoryview(b"xmemoryviewx")[1:-1])
        p.commit(4, "str é")
        p.commit(5, b"")
        with pytest.raises(TypeError, match="not int"):
            p.commit(6, 42)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            p.commit(6, None)  # type: ignore[arg-type]
        with pytest.raises(OverflowError):
            p.commit(1 << 20, b"type out of i16")
    server.stop()
    got = [(r.type, r.data) for r in modsynclog.Reader(server.data_dir)]
    assert got == [(1, b"bytes"), (2, b"bytearray"), (3, b"memoryview"), (4, "str é".encode()), (5, b"")]


def test_too_large_record(server: Server) -> None:
    with modsynclog.Producer(server.addr) as p:
        with pytest.raises(modsynclog.TooLargeError) as e:
            p.commit(1, b"x" * (4 * 1024 * 1024 + 1))
        assert e.value.code == 9
        assert isinstance(e.value, modsynclog.Error)
        p.commit(1, b"small")  # still usable
        p.flush(timeout=30)


def test_closed_producer(server: Server) -> None:
    p = modsynclog.Producer(server.addr)
    p.commit(1, b"a")
    p.close()
    with pytest.raises(modsynclog.ClosedError) as e:
        p.commit(1, b"b")
    assert e.value.code == 6


def test_flush_timeout_without_server() -> None:
    from conftest import free_port

    p = modsynclog.Producer(f"127.0.0.1:{free_port()}")
    p.commit(1, b"nobody listens")
    with pytest.raises(modsynclog.TimeoutError) as e:
        p.flush(timeout=0.3)
    assert isinstance(e.value, TimeoutError)  # the builtin too
    assert e.value.code == 5
    with pytest.raises(modsynclog.TimeoutError):
        p.close(timeout=0.1)


def test_bad_arguments() -> None:
    with pytest.raises(modsynclog.InvalidArgumentError):
        modsynclog.Producer("")
    with pytest.raises(modsynclog.InvalidArgumentError):
        modsynclog.Producer("127.0.0.1:1", queue_capacity=0)
    p = modsynclog.Producer("127.0.0.1:1")
    with pytest.raises(modsynclog.InvalidArgumentError):
        p.flush(timeout=-1)
    p.close(timeout=0)  # nothing queued: closes at once
