"""Quickstart: the global SDK. Connects to a server, commits a few records, waits until
the server acknowledged them, and prints how many were committed.

    python examples/quickstart.py [ADDR]      (default 127.0.0.1:1235)

The same example exists in Rust, C, Node and Go (see scripts/examples.sh).
"""

import sys

import modsynclog

COUNT = 3

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:1235"
modsynclog.init(addr)  # once per process; connects in the background
for i in range(COUNT):
    modsynclog.commit(modsynclog.TYPE_APP_LOG, f"hello from python {i}")  # only queues
modsynclog.flush(timeout=10)  # the server has them all now
modsynclog.close()
print(f"committed {COUNT} records")
