"""Checks the master store after the soak: every record of every producer present exactly
once and in commit order, nothing else stored.
Usage: check.py DIR TAG=COUNT...   (e.g. C=12000 PY=12000 RS=12000)
Reads DIR with the Python SDK's Reader. Prints one line per producer and a last line
`check: total=T duplicates=D missing=M out_of_order=O bad=B`; exits 1 on any problem.
SOAK_CHECK_EXTRA=TAG makes it expect one record more from TAG (to see the check fail)."""
import os
import sys
from collections import Counter

import modsynclog

from producer import payload

TYPES = {"C": 21, "PY": 22, "RS": 23}


def main() -> int:
    root = sys.argv[1]
    want: dict[str, int] = {}
    for arg in sys.argv[2:]:
        tag, count = arg.split("=")
        want[tag] = int(count)
    extra = os.environ.get("SOAK_CHECK_EXTRA")
    if extra:
        want[extra] += 1
    seqs: dict[str, list[int]] = {tag: [] for tag in want}
    bad: list[str] = []  # records that are no producer's, or whose payload or type is wrong
    ids: list[tuple[str, int]] = []
    for r in modsynclog.Reader(root):
        ids.append((r.date, r.id))
        parts = r.data.split(b" ", 2)
        tag = parts[0].decode(errors="replace")
        try:
            seq = int(parts[1])
        except (IndexError, ValueError):
            seq = -1
        if tag not in seqs or seq < 0 or r.data != payload(tag, seq) or r.type != TYPES.get(tag):
            bad.append(f"{r.date}#{r.id} type {r.type}: {r.data[:60]!r}")
            continue
        seqs[tag].append(seq)
    problems: list[str] = []
    # The reader's ids: consecutive from 0 within each day.
    last: dict[str, int] = {}
    for date, rid in ids:
        if rid != last.get(date, -1) + 1:
            problems.append(f"record ids of {date} jump from {last.get(date, -1)} to {rid}")
            break
        last[date] = rid
    totals: Counter[str] = Counter()
    for tag, n in want.items():
        got = seqs[tag]
        counts = Counter(got)
        dup = sum(c - 1 for c in counts.values() if c > 1)
        missing = sum(1 for s in range(n) if s not in counts)
        beyond = sum(1 for s in counts if s >= n)
        order = sum(1 for a, b in zip(got, got[1:]) if b <= a)
        totals.update(duplicates=dup, missing=missing, out_of_order=order)
        line = f"{tag}: {len(got)} stored, {n} committed, {dup} duplicates, {missing} missing, {order} out of order"
        if beyond:
            line += f", {beyond} never committed"
        print(line)
        if dup or missing or order or beyond or got != list(range(n)):
            problems.append(f"{tag}: records are not exactly 0..{n - 1} in order")
            if dup:
                problems.append(f"{tag}: duplicated: {sorted(s for s, c in counts.items() if c > 1)[:20]}")
            if missing:
                problems.append(f"{tag}: missing: {[s for s in range(n) if s not in counts][:20]}")
            if order:
                where = [(k, a, b) for k, (a, b) in enumerate(zip(got, got[1:])) if b <= a][:5]
                problems.append(f"{tag}: out of order (position, seq, next seq): {where}")
    if bad:
        problems.append(f"{len(bad)} records belong to no producer or are damaged, e.g. {bad[:5]}")
    for p in problems:
        print(f"check: {p}")
    print(
        f"check: total={len(ids)} duplicates={totals['duplicates']} missing={totals['missing']} "
        f"out_of_order={totals['out_of_order']} bad={len(bad)}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
