"""Fixtures: a real modsynclog-server process on a free port, with its own data folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_BIN = Path(os.environ.get("MODSYNCLOG_SERVER_BIN", REPO / "target" / "debug" / "modsynclog-server"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process; `stop()` ends it (idempotent)."""

    def __init__(self, data_dir: Path, binary: Path = SERVER_BIN, extra_args: Sequence[str] = ()) -> None:
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run `cargo build --workspace` (or set MODSYNCLOG_SERVER_BIN)")
        self.data_dir = data_dir
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        self.proc: Optional[subprocess.Popen[bytes]] = subprocess.Popen(
            [str(binary), "--data-dir", str(data_dir), "--grpc-addr", self.addr,
             "--sync-addr", "off", "--fsync", "never", "--utc", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"server did not listen on {self.addr} within {timeout}s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """`start_server(*extra_args)`: a server with more flags (its own data folder); all
    the servers started are stopped at the end of the test."""
    started: list[Server] = []

    def start(*extra_args: str) -> Server:
        data = tmp_path / f"data-{len(started)}"
        data.mkdir()
        srv = Server(data, extra_args=extra_args)
        started.append(srv)
        return srv

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()


TESTCERTS_BIN = REPO / "target" / "debug" / "modsynclog-testcerts"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of test certificates written by `modsynclog-testcerts`: ca.pem,
    server.pem/server.key (localhost, 127.0.0.1), client.pem/client.key, other-ca.pem,
    expired.pem/expired.key."""
    if not TESTCERTS_BIN.exists():
        pytest.fail(f"{TESTCERTS_BIN} is missing: run `cargo build -p modsynclog-testcerts`")
    out = tmp_path_factory.mktemp("certs")
    subprocess.run([str(TESTCERTS_BIN), str(out)], check=True, capture_output=True, timeout=60)
    return out


def run_python(code: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (the global SDK is once per process)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **env}, cwd=Path(__file__).parent,  # not python/: its source package has no .so
    )
