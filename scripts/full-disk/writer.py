"""The Python SDK against a server whose disk fills up (scripts/full-disk.sh).

    writer.py ADDR TAG DIR PAD BATCH FLUSH_EVERY

Same steps and output as writer.c: once DIR/start exists, records of type 12, "TAG:<i>:"
then PAD bytes 'p', flushed every FLUSH_EVERY, until commit or flush raises NoSpaceError
(at once, not after the flush's 60 s timeout); then, once DIR/freed exists, flush until
the kept records are delivered, 200 more records, flush. The last line is
`RESULT tag=... total=N`.
"""
import os
import sys
import time

import modsynclog

TYPE, MORE = 12, 200
addr, tag, signals = sys.argv[1], sys.argv[2], sys.argv[3]
pad, batch, flush_every = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])


def record(i: int) -> bytes:
    return f"{tag}:{i}:".encode() + b"p" * pad


def fail(message: str) -> None:
    print(f"FAIL {tag}: {message}", flush=True)
    sys.exit(1)


def wait_for(name: str) -> None:
    path = os.path.join(signals, name)
    deadline = time.monotonic() + 180
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            fail(f"{path} never appeared")
        time.sleep(0.1)


modsynclog.init(addr, batch_max_records=batch)
print(f"{tag}: ready", flush=True)
wait_for("start")
i = acked = 0
took = 0.0
source = None
error = None
while source is None:
    if i > 1_000_000:
        fail("1,000,000 records acknowledged and the disk never filled")
    try:
        modsynclog.commit(TYPE, record(i))
    except modsynclog.NoSpaceError as e:
        source, error = "commit", e
        break
    i += 1
    if i % flush_every == 0:
        t = time.monotonic()
        try:
            modsynclog.flush(60)
            acked = i
        except modsynclog.NoSpaceError as e:
            source, error = "flush", e
        took = time.monotonic() - t

assert isinstance(error, modsynclog.NoSpaceError) and error.code == 16, repr(error)
committed = i
print(f"{tag}: NoSpaceError from {source} after {took:.3f} s: {acked} records acknowledged before the error, "
      f"{committed} committed", flush=True)
print(f"{tag}: message: {error}", flush=True)
if took > 5:
    fail(f"the full disk was reported after {took:.1f} s, not at once")

wait_for("freed")
t = time.monotonic()
while True:
    try:
        modsynclog.flush(60)
        break
    except modsynclog.NoSpaceError:
        if time.monotonic() - t > 60:
            fail("still NoSpace 60 s after space was freed")
        time.sleep(0.25)
print(f"{tag}: delivered the {committed - acked} records kept since the disk filled, "
      f"{time.monotonic() - t:.1f} s after space was freed", flush=True)
for _ in range(MORE):
    modsynclog.commit(TYPE, record(i))
    i += 1
modsynclog.flush(60)
modsynclog.close()
print(f"RESULT tag={tag} acked_at_error={acked} committed_at_error={committed} error_from={source} total={i}",
      flush=True)
