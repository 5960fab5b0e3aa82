"""Safe on an open network: tokens, bounded queues (records and bytes) and TLS, against a
real server."""

from __future__ import annotations

import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

import modsynclog
from conftest import SERVER_BIN, Server, free_port, run_python

StartServer = Callable[..., Server]


def server_has_tls() -> bool:
    if not SERVER_BIN.exists():
        return False
    r = subprocess.run([str(SERVER_BIN), "--help"], capture_output=True, text=True, timeout=30)
    return "--tls-cert" in r.stdout


# --- tokens ---------------------------------------------------------------------------


def test_right_token_delivers(start_server: StartServer) -> None:
    srv = start_server("--token", "right")
    with modsynclog.Producer(srv.addr, token="right") as p:
        p.commit(1, b"authorized")
        p.flush(timeout=20)
    srv.stop()
    assert [r.data for r in modsynclog.Reader(srv.data_dir)] == [b"authorized"]


@pytest.mark.parametrize("token", ["wrong", None])
def test_wrong_token_finishes_the_producer(start_server: StartServer, token: str | None) -> None:
    srv = start_server("--token", "right")
    p = modsynclog.Producer(srv.addr, token=token)
    try:
        p.commit(1, b"refused")
    except modsynclog.UnauthenticatedError:
        pass  # the producer connects at once and may have heard the refusal already
    started = time.monotonic()
    with pytest.raises(modsynclog.UnauthenticatedError) as e:
        p.flush(timeout=20)  # the server's answer, not a timeout
    assert time.monotonic() - started < 8, "the auth error took too long"
    assert e.value.code == 11
    assert not isinstance(e.value, modsynclog.TimeoutError)

    # The producer is finished: everything fails at once with the same kind.
    for call in (lambda: p.commit(1, b"later"), lambda: p.try_commit(1, b"later"),
                 lambda: p.flush(timeout=20), lambda: p.close(timeout=20)):
        started = time.monotonic()
        with pytest.raises(modsynclog.UnauthenticatedError):
            call()
        assert time.monotonic() - started < 1, "a finished producer must fail at once"
    srv.stop()
    assert list(modsynclog.Reader(srv.data_dir)) == []


def test_token_without_write_scope_is_permission_denied(start_server: StartServer) -> None:
    srv = start_server("--ingest-token", "w", "--sync-token", "r")
    p = modsynclog.Producer(srv.addr, token="r")
    try:
        p.commit(1, b"read scope only")
    except modsynclog.PermissionDeniedError:
        pass  # the refusal may have arrived before the first commit
    started = time.monotonic()
    with pytest.raises(modsynclog.PermissionDeniedError) as e:
        p.flush(timeout=20)
    assert time.monotonic() - started < 8
    assert e.value.code == 15
    with pytest.raises(modsynclog.PermissionDeniedError):
        p.commit(1, b"later")
    with pytest.raises(modsynclog.PermissionDeniedError):
        p.close(timeout=20)
    # the write token of the same server works
    with modsynclog.Producer(srv.addr, token="w") as q:
        q.commit(1, b"write scope")
    srv.stop()
    assert [r.data for r in modsynclog.Reader(srv.data_dir)] == [b"write scope"]


def test_global_sdk_wrong_token(start_server: StartServer) -> None:
    srv = start_server("--token", "right")
    code = textwrap.dedent(
        """
        import os, time, modsynclog as m
        m.init(os.environ["ADDR"], token="wrong", linger_ms=1)
        try:
            m.commit(1, b"refused")
        except m.UnauthenticatedError:
            pass  # the refusal may have arrived before the first commit
        try:
            m.flush(timeout=20)
        except m.UnauthenticatedError:
            pass
        else:
            raise SystemExit("flush with a wrong token must raise UnauthenticatedError")
        t = time.monotonic()
        try:
            m.commit(1, b"later")
        except m.UnauthenticatedError:
            assert time.monotonic() - t < 1
        else:
            raise SystemExit("commit after the auth error must fail")
        print("ok")
        """
    )
    r = run_python(code, ADDR=srv.addr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"


# --- bounded queue --------------------------------------------------------------------


def test_queue_bytes_bound_then_queue_full_after_enqueue_timeout() -> None:
    """Nothing listens: records stay queued; `queue_bytes` bounds them by size."""
    p = modsynclog.Producer(f"127.0.0.1:{free_port()}", queue_bytes=4096, enqueue_timeout=0.5)
    record = b"x" * 1000
    accepted = 0
    started = time.monotonic()
    with pytest.raises(modsynclog.QueueFullError) as e:
        for _ in range(100):
            p.commit(1, record)
            accepted += 1
    waited = time.monotonic() - started
    assert e.value.code == 13
    # the default queue (100 000 records, 64 MiB) would have taken all 100
    assert 1 <= accepted <= 5, accepted
    assert 0.4 <= waited < 5, waited

    # try_commit does not wait
    started = time.monotonic()
    with pytest.raises(modsynclog.QueueFullError):
        p.try_commit(1, record)
    assert time.monotonic() - started < 0.2

    # commit releases the GIL while it waits for room: another thread keeps running
    ticks = 0
    stop = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        with pytest.raises(modsynclog.QueueFullError):
            p.commit(1, record)
    finally:
        stop.set()
        t.join()
    assert ticks >= 20, f"the other thread ran only {ticks} times during a 0.5 s commit"
    with pytest.raises(modsynclog.TimeoutError):
        p.close(timeout=0.1)


def test_queue_capacity_bound_with_try_commit() -> None:
    p = modsynclog.Producer(f"127.0.0.1:{free_port()}", queue_capacity=3, enqueue_timeout=0.3, linger_ms=60_000,
                            batch_max_records=1000)
    for i in range(3):
        p.try_commit(1, b"r%d" % i)
    started = time.monotonic()
    with pytest.raises(modsynclog.QueueFullError):
        p.try_commit(1, b"one too many")
    assert time.monotonic() - started < 0.2
    with pytest.raises(modsynclog.TimeoutError):
        p.close(timeout=0.1)


def test_global_sdk_queue_bytes() -> None:
    code = textwrap.dedent(
        """
        import os, time, modsynclog as m
        m.init(os.environ["ADDR"], queue_bytes=2048, enqueue_timeout=0.4)
        n = 0
        t = time.monotonic()
        try:
            for _ in range(100):
                m.commit(1, b"y" * 1000)
                n += 1
        except m.QueueFullError:
            waited = time.monotonic() - t
            assert 0.3 <= waited < 5, waited
        else:
            raise SystemExit("the global queue must fill up")
        assert 1 <= n <= 3, n
        t = time.monotonic()
        try:
            m.try_commit(1, b"y" * 1000)
        except m.QueueFullError:
            assert time.monotonic() - t < 0.2
        else:
            raise SystemExit("try_commit on a full queue must raise")
        print("ok")
        os._exit(0)  # nothing listens: do not wait for close at exit
        """
    )
    r = run_python(code, ADDR=f"127.0.0.1:{free_port()}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"


# --- TLS ------------------------------------------------------------------------------


def test_tls_files_with_a_plaintext_address_are_refused(certs: Path) -> None:
    for addr in ("127.0.0.1:1", "http://127.0.0.1:1"):
        with pytest.raises(modsynclog.InvalidArgumentError):
            modsynclog.Producer(addr, tls_ca_file=certs / "ca.pem")
        with pytest.raises(modsynclog.InvalidArgumentError):
            modsynclog.Producer(addr, tls_server_name="localhost")


def test_missing_tls_file_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises((modsynclog.NotFoundError, modsynclog.InvalidArgumentError)):
        modsynclog.Producer("https://localhost:1", tls_ca_file=tmp_path / "missing.pem")


def test_server_offers_tls() -> None:
    assert server_has_tls(), "modsynclog-server --help lists no --tls-cert: rebuild it (cargo build -p modsynclog-server)"


def test_tls_round_trip(start_server: StartServer, certs: Path) -> None:
    srv = start_server("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"))
    sent = [b"tls-%d" % i for i in range(200)]
    with modsynclog.Producer(f"https://localhost:{srv.port}", tls_ca_file=str(certs / "ca.pem")) as p:
        for data in sent:
            p.commit(7, data)
        p.flush(timeout=30)
        assert p.progress() == (len(sent), len(sent))
    # an IP address with the name the certificate carries
    with modsynclog.Producer(f"https://127.0.0.1:{srv.port}", tls_ca_file=certs / "ca.pem",
                             tls_server_name="localhost") as p:
        p.commit(8, b"by ip")
        p.flush(timeout=30)
    srv.stop()
    got = [(r.type, r.data) for r in modsynclog.Reader(srv.data_dir)]
    assert got == [(7, d) for d in sent] + [(8, b"by ip")]


def test_tls_untrusted_server_or_plaintext_client_delivers_nothing(start_server: StartServer, certs: Path) -> None:
    srv = start_server("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"))
    # a CA that did not sign the server's certificate
    p = modsynclog.Producer(f"https://localhost:{srv.port}", tls_ca_file=certs / "other-ca.pem")
    p.commit(1, b"untrusted")
    with pytest.raises(modsynclog.Error):
        p.flush(timeout=2)
    # a plaintext client at a TLS server
    q = modsynclog.Producer(srv.addr)
    q.commit(1, b"plaintext")
    with pytest.raises(modsynclog.Error):
        q.flush(timeout=2)
    srv.stop()
    assert list(modsynclog.Reader(srv.data_dir)) == []


def test_tls_global_sdk_with_client_certificate(start_server: StartServer, certs: Path) -> None:
    srv = start_server("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                       "--tls-client-ca", str(certs / "ca.pem"))
    code = textwrap.dedent(
        """
        import os, modsynclog as m
        certs = os.environ["CERTS"]
        m.init(os.environ["ADDR"], tls_ca_file=certs + "/ca.pem", tls_cert_file=certs + "/client.pem",
               tls_key_file=certs + "/client.key")
        m.commit(5, b"mutual")
        m.flush(timeout=30)
        m.close()
        print("ok")
        """
    )
    r = run_python(code, ADDR=f"https://localhost:{srv.port}", CERTS=str(certs))
    assert r.returncode == 0, r.stdout + r.stderr
    # without a client certificate the server refuses the connection
    p = modsynclog.Producer(f"https://localhost:{srv.port}", tls_ca_file=certs / "ca.pem")
    p.commit(1, b"no client certificate")
    with pytest.raises(modsynclog.Error):
        p.flush(timeout=2)
    srv.stop()
    assert [r.data for r in modsynclog.Reader(srv.data_dir)] == [b"mutual"]
