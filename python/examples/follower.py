"""Follow a store folder: print records as they arrive until Ctrl-C or 30 s of silence.

    python examples/follow.py DATA_DIR [YYYY-MM-DD [ID]]
"""

from __future__ import annotations

import sys
import threading
from typing import Optional

import modsynclog


def follow(data_dir: str, date: Optional[str] = None, first_id: int = 0, idle: float = 30.0) -> int:
    seen = 0
    with modsynclog.Reader(data_dir, date=date, id=first_id, follow=True) as reader:
        # Another thread may stop the reader at any time: `reader.close()`.
        stop_later = threading.Timer(3600, reader.close)
        stop_later.daemon = True
        stop_later.start()
        while True:
            record = reader.next(timeout=idle)
            if record is None:  # idle too long, or closed
                break
            seen += 1
            print(f"{record.date} #{record.id} t={record.time} type={record.type} {record.data[:60]!r}")
        stop_later.cancel()
    return seen


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    try:
        n = follow(args[0], args[1] if len(args) > 1 else None, int(args[2]) if len(args) > 2 else 0)
    except KeyboardInterrupt:
        n = -1
    except modsynclog.Error as e:
        sys.exit(f"error {e.code} ({type(e).__name__}): {e}")
    print(f"{n} records", file=sys.stderr)
