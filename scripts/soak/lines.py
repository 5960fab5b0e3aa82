"""Feeds the Rust producer (`modsynclog-client send`, the Rust SDK): prints numbered lines
"RS 0000123 <filler>" to stdout at about RATE lines per second until it has printed at
least N AND the file STOP exists, then writes the number printed to COUNT and closes
stdout (send then flushes, waits for every acknowledgement and exits 0).
Usage: lines.py N STOP COUNT RATE"""
import os
import sys
import time

from producer import payload


def main() -> int:
    n, stop, count_file, rate = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    out = sys.stdout.buffer
    start = time.monotonic()
    i = 0
    while True:
        if i % 50 == 0:
            out.flush()
            if i >= n and os.path.exists(stop):
                break
            ahead = i / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        out.write(payload("RS", i) + b"\n")
        i += 1
    out.flush()
    with open(count_file, "w") as f:
        f.write(f"{i}\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
