"""Benchmark of the Python bindings against a release server. Prints figures, asserts nothing.

    target/pyenv/bin/python python/bench.py [--records N] [--scan N]

1. commits/s acknowledged: one thread commits N records of 100 bytes, then flush().
2. Reader scan: records/s over the store's records (at least --scan of them).

For scripts/bench-sdk.sh (issue 13), one case each, printing `RESULT <what> <rate>`:

    bench.py --sdk-commit ADDR [--records N]   a default Producer: 10,000 records + flush to
                                               warm up, then N commits + flush; acked/s
    bench.py --sdk-scan DIR [--passes 3]       `for r in Reader(DIR)` summing len(r.data)
                                               (opened inside the timing); best records/s
    bench.py --sdk-scan-columns DIR [--passes 3]
                                               the same scan through `Reader.next_columns()`,
                                               summing len(b) and len(b.data) per batch
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

# python/ itself holds the source package (without the compiled module): use the installed one.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import modsynclog  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SERVER = Path(os.environ.get("MODSYNCLOG_SERVER_BIN", REPO / "target" / "release" / "modsynclog-server"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    addr = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(SERVER), "--data-dir", str(data), "--grpc-addr", addr, "--sync-addr", "off", "--fsync", "never", "--utc"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, addr
        except OSError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("the server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_self() -> float:
    """CPU seconds of this process: the Python thread plus the SDK's runtime threads."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_of(pid: int) -> float:
    """CPU seconds of another process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def sdk_commit(addr: str, n: int) -> None:
    payload = b"x" * 100
    p = modsynclog.Producer(addr)
    for _ in range(10_000):  # warm-up: connection, stream
        p.commit(1101, payload)
    p.flush()
    commit = p.commit
    t0 = time.perf_counter()
    for _ in range(n):
        commit(1101, payload)
    p.flush()
    secs = time.perf_counter() - t0
    p.close()
    print(f"Python Producer, default options: {n} x 100 B acknowledged in {secs:.3f} s")
    print(f"RESULT commit {n / secs:.0f}")


def time_passes(
    data: str, passes: int, what: str, label: str, scan: Callable[[modsynclog.Reader], tuple[int, int]]
) -> None:
    """Times `passes` scans of a Reader of `data` opened inside the timing (`scan` returns
    records and bytes); prints each pass and `RESULT <what> <best records/s>`."""
    best = 0.0
    for i in range(passes):
        t0 = time.perf_counter()
        count, size = scan(modsynclog.Reader(data))
        secs = time.perf_counter() - t0
        print(f"Python {label} scan, pass {i + 1}: {count} records, {size} B in {secs:.3f} s")
        best = max(best, count / secs)
    print(f"RESULT {what} {best:.0f}")


def scan_records(r: modsynclog.Reader) -> tuple[int, int]:
    count = size = 0
    for rec in r:
        count += 1
        size += len(rec.data)
    return count, size


def scan_columns(r: modsynclog.Reader) -> tuple[int, int]:
    count = size = 0
    while (b := r.next_columns()) is not None:
        count += len(b)
        size += len(b.data)
    return count, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--scan", type=int, default=1_000_000)
    ap.add_argument("--sdk-commit", metavar="ADDR", help="only the issue 13 commit case, against ADDR")
    ap.add_argument("--sdk-scan", metavar="DIR", help="only the issue 13 scan case, over DIR")
    ap.add_argument("--sdk-scan-columns", metavar="DIR", help="the scan case through Reader.next_columns, over DIR")
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    if args.sdk_commit:
        return sdk_commit(args.sdk_commit, args.records)
    if args.sdk_scan:
        return time_passes(args.sdk_scan, args.passes, "scan", "Reader", scan_records)
    if args.sdk_scan_columns:
        return time_passes(args.sdk_scan_columns, args.passes, "scan-columns", "Reader columns", scan_columns)
    if not SERVER.exists():
        print(f"building {SERVER} (once)...", flush=True)
        subprocess.run(["cargo", "build", "--release", "-p", "modsynclog-server"], cwd=REPO, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="msl-pybench-"))
    try:
        data = tmp / "data"
        data.mkdir()
        proc, addr = start_server(data)
        payload = b"x" * 100
        try:
            # warm up the connection
            with modsynclog.Producer(addr) as p:
                p.commit(1, payload)
            p = modsynclog.Producer(addr)
            commit = p.commit
            n = args.records
            c0, s0 = cpu_self(), cpu_of(proc.pid)
            t0 = time.perf_counter()
            for _ in range(n):
                commit(1001, payload)
            t1 = time.perf_counter()
            p.flush(timeout=600)
            t2 = time.perf_counter()
            c1, s1 = cpu_self(), cpu_of(proc.pid)
            p.close()
            print(f"commit+flush: {n} x 100 B in {t2 - t0:.3f} s = {n / (t2 - t0):,.0f} commits/s acknowledged "
                  f"(commit loop alone {n / (t1 - t0):,.0f}/s, {1e9 * (t1 - t0) / n:.0f} ns/commit; "
                  f"flush waited {t2 - t1:.3f} s); target >= 500,000/s")
            print(f"  CPU per record: client process {1e9 * (c1 - c0) / n:.0f} ns (Python thread + SDK threads), "
                  f"server {1e9 * (s1 - s0) / n:.0f} ns; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")

            # the commit call alone: no server, a queue that never fills (nothing is sent)
            q = modsynclog.Producer(f"127.0.0.1:{free_port()}", queue_capacity=n + 1,
                                    queue_bytes=(n + 1) * len(payload))
            t0 = time.perf_counter()
            for _ in range(n):
                q.commit(1001, payload)
            t1 = time.perf_counter()
            try:
                q.close(timeout=0)
            except modsynclog.TimeoutError:
                pass  # nothing could be sent: expected
            print(f"  commit call alone (nothing sent): {1e9 * (t1 - t0) / n:.0f} ns/commit = {n / (t1 - t0):,.0f}/s")

            # the same through the global SDK
            modsynclog.init(addr)
            g = modsynclog.commit
            t0 = time.perf_counter()
            for _ in range(n):
                g(1001, payload)
            t1 = time.perf_counter()
            modsynclog.flush(timeout=600)
            t2 = time.perf_counter()
            modsynclog.close()
            print(f"global commit+flush: {n / (t2 - t0):,.0f} commits/s acknowledged "
                  f"(commit loop alone {n / (t1 - t0):,.0f}/s)")

            total = 1 + 2 * n
            if total < args.scan:
                with modsynclog.Producer(addr) as p:
                    for _ in range(args.scan - total):
                        p.commit(1001, payload)
                total = args.scan
        finally:
            stop(proc)

        t0 = time.perf_counter()
        count = 0
        for _ in modsynclog.Reader(data):
            count += 1
        t1 = time.perf_counter()
        print(f"Reader scan: {count} records in {t1 - t0:.3f} s = {count / (t1 - t0):,.0f} records/s")
        t0 = time.perf_counter()
        size = 0
        for rec in modsynclog.Reader(data):
            size += len(rec.data)
        t1 = time.perf_counter()
        print(f"Reader scan reading .data: {count / (t1 - t0):,.0f} records/s ({size / (t1 - t0) / 1e6:.0f} MB/s)")
        assert count == total, (count, total)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
