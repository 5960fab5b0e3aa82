"""Producer: a Producer with explicit options, and what to do with each error.

Commits N records (type 1201, JSON), then flushes with a timeout and reports what the
server acknowledged. MODSYNCLOG_TOKEN (a bearer token) and MODSYNCLOG_CA (the CA file of
an https:// server) are used when set.

* QueueFullError (the queue stayed full for enqueue_timeout): wait a little, retry.
* NoSpaceError (the server's disk is full; the producer keeps its records): report, retry later.
* UnauthenticatedError / PermissionDeniedError: final, nothing can help; exit with status 3.

    python examples/producer.py [ADDR [N]]      (default 127.0.0.1:1235 1000)
"""

from __future__ import annotations

import os
import sys
import time

import modsynclog


def fail(e: modsynclog.Error) -> None:
    """Reports an error; refused credentials exit with 3, anything else with 1."""
    print(f"error {e.code} ({type(e).__name__}): {e}", file=sys.stderr)
    final = (modsynclog.UnauthenticatedError, modsynclog.PermissionDeniedError)
    sys.exit(3 if isinstance(e, final) else 1)


def main(addr: str, n: int) -> None:
    producer = modsynclog.Producer(
        addr,
        queue_bytes=1 << 20,  # at most 1 MiB of payloads waiting to be sent
        linger_ms=10,  # batch what comes within 10 ms
        enqueue_timeout=2.0,  # commit waits this long for room, then QueueFullError
        token=os.environ.get("MODSYNCLOG_TOKEN"),
        tls_ca_file=os.environ.get("MODSYNCLOG_CA"),  # for https://
    )
    for i in range(n):
        record = f'{{"lang":"python","i":{i}}}'
        while True:
            try:
                producer.commit(modsynclog.TYPE_JSON_LOG, record)
                break
            except modsynclog.QueueFullError:
                time.sleep(0.1)
            except modsynclog.NoSpaceError as e:
                print(f"server disk full, retrying in 1 s: {e}", file=sys.stderr)
                time.sleep(1)

    # Wait up to 30 s for the acknowledgements; a full disk is retried until then.
    deadline = time.monotonic() + 30
    while True:
        left = max(0.0, deadline - time.monotonic())
        try:
            producer.flush(timeout=left)
            break
        except modsynclog.NoSpaceError:
            if left == 0:
                raise
            print("server disk full, flushing again in 1 s", file=sys.stderr)
            time.sleep(1)
        except modsynclog.Error:
            committed, acked = producer.progress()
            print(f"acknowledged {acked} of {committed} records", file=sys.stderr)
            raise
    committed, acked = producer.progress()
    producer.close()
    print(f"committed {committed} records, acknowledged {acked}")


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:1235", int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
    except modsynclog.Error as e:
        fail(e)
