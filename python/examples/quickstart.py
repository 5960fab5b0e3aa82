"""The README quickstart (tests/test_readme.py keeps the two identical)."""

import os
import modsynclog

addr = os.environ.get("MODSYNCLOG_ADDR", "127.0.0.1:1235")          # the server's gRPC address
data_dir = os.environ.get("MODSYNCLOG_DATA_DIR", "./data")           # the server's --data-dir

# One process-wide producer, like the original Go SDK.
modsynclog.init(addr)
modsynclog.commit(modsynclog.TYPE_APP_LOG, b"hello")     # bytes, bytearray, memoryview...
modsynclog.commit(modsynclog.TYPE_JSON_LOG, '{"a": 1}')  # ...or str (sent as UTF-8)
modsynclog.flush(timeout=10)                             # wait for the server's acknowledgement

# Or producer objects, e.g. one per component, closed (flushed) on leaving the block.
with modsynclog.Producer(addr, linger_ms=5) as producer:
    for i in range(3):
        producer.commit(modsynclog.TYPE_DB_LOG, b"row %d" % i)

# Read the store: every record present, in order.
for record in modsynclog.Reader(data_dir):
    print(record.date, record.id, record.type, record.data)

modsynclog.close()
