"""Prints every record of a store folder as "DATE ID TIME TYPE HEX"."""
import sys

import modsynclog

out = sys.stdout
for r in modsynclog.Reader(sys.argv[1]):
    out.write(f"{r.date} {r.id} {r.time} {r.type} {r.data.hex()}\n")
