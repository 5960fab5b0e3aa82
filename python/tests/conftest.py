"""Fixtures: a real modsynclog-server process on a free port, with its own data folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_BIN = Path(os.environ.get("MODSYNCLOG_SERVER_BIN", REPO / "target" / "debug" / "modsynclog-server"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process; `stop()` ends it (idempotent)."""

    def __init__(self, data_dir: Path, binary: Path = SERVER_BIN) -> None:
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run `cargo build --workspace` (or set MODSYNCLOG_SERVER_BIN)")
        self.data_dir = data_dir
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        self.proc: Optional[subprocess.Popen[bytes]] = subprocess.Popen(
            [str(binary), "--data-dir", str(data_dir), "--grpc-addr", self.addr,
             "--sync-addr", "off", "--fsync", "never", "--utc"],
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


def run_python(code: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (the global SDK is once per process)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **env}, cwd=Path(__file__).parent,  # not python/: its source package has no .so
    )
