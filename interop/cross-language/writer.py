"""Commits N records of type 12 through the Python SDK (same payload shape as writer.c)."""
import sys

import modsynclog

addr, n = sys.argv[1], int(sys.argv[2])
modsynclog.init(addr)
for i in range(n):
    modsynclog.commit(12, f"py:{i}:".encode() + bytes((i * 7 + j) % 256 for j in range(i % 40)))
modsynclog.flush(60)
modsynclog.close()
