"""Soak producer in Python: like producer.c, through the Python SDK, "PY 0000123 <filler>"
(type 22). Usage: producer.py ADDR N STOP COUNT RATE"""
import os
import sys
import time

import modsynclog

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def payload(tag: str, i: int) -> bytes:
    return (f"{tag} {i:07d} " + "".join(ALPHABET[(i * 7 + j) % 36] for j in range(i % 32))).encode()


def main() -> int:
    addr, n, stop, count_file, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    modsynclog.init(addr)
    start = time.monotonic()
    i = 0
    while True:
        if i % 50 == 0:
            if i >= n and os.path.exists(stop):
                break
            ahead = i / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        data = payload("PY", i)
        while True:
            try:
                modsynclog.commit(22, data)
                break
            except modsynclog.QueueFullError:
                print(f"Python producer: queue full at record {i}, retrying", file=sys.stderr)
        i += 1
    modsynclog.flush(120)
    modsynclog.close()
    with open(count_file, "w") as f:
        f.write(f"{i}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
