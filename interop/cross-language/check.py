"""Checks a reader's output: 3*N records, each language's N payloads exactly, in commit order."""
import sys

path, n = sys.argv[1], int(sys.argv[2])
prefixes = {11: "c", 12: "py", 13: "node"}
seen = {t: [] for t in prefixes}
ids = []
for line in open(path):
    date, rid, _time, ty, hexdata = line.split()
    ids.append((date, int(rid)))
    seen[int(ty)].append(bytes.fromhex(hexdata))
problems = []
if ids != sorted(ids) or len(set(ids)) != len(ids):
    problems.append("ids are not strictly increasing")
for ty, name in prefixes.items():
    want = [f"{name}:{i}:".encode() + bytes((i * 7 + j) % 256 for j in range(i % 40)) for i in range(n)]
    if seen[ty] != want:
        problems.append(f"type {ty} ({name}): {len(seen[ty])} records, expected {n} in commit order")
for p in problems:
    print(f"{path}: {p}")
sys.exit(1 if problems else 0)
