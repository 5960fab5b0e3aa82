"""Follower: a reader that follows a store folder (a server's --data-dir, or a replica's)
and prints each new record as it arrives: `date id type len payload`, the payload as
text when it is printable ASCII, else `hex:...`. Records already there are skipped.
Stops after N records, or on Ctrl-C.

    python examples/follower.py DATA_DIR [N]
"""

from __future__ import annotations

import signal
import sys
from typing import Optional

import modsynclog


def follow(data_dir: str, limit: Optional[int]) -> int:
    # Skip what is there: read to the end once, then follow from the record after the last.
    last = None
    for last in modsynclog.Reader(data_dir):
        pass
    date, first = (last.date, last.id + 1) if last else (None, 0)
    count = 0
    with modsynclog.Reader(data_dir, date=date, id=first, follow=True) as reader:
        print(f"following {data_dir}", file=sys.stderr, flush=True)
        try:
            while count != limit:
                # A timeout lets Python look at Ctrl-C; None is also returned once closed
                # (`reader.close()`, e.g. from another thread).
                record = reader.next(timeout=0.5)
                if record is None:
                    if reader.closed:
                        break
                    continue
                data = record.data
                text = data.decode() if all(0x20 <= b < 0x7F for b in data) else "hex:" + data.hex()
                print(record.date, record.id, record.type, len(data), text, flush=True)
                count += 1
        except KeyboardInterrupt:
            pass
    return count


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    # Ctrl-C raises KeyboardInterrupt, also when started in the background by a script.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        n = follow(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
    except modsynclog.Error as e:
        sys.exit(f"error {e.code} ({type(e).__name__}): {e}")
    print(f"stopped after {n} records", file=sys.stderr)
