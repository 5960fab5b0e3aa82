#!/usr/bin/env bash
# Installs libmodsynclog (release build), its header and pkg-config file under PREFIX.
#   ffi-c/scripts/install.sh [PREFIX]        (default /usr/local; DESTDIR is honoured)
# Then: cc app.c $(pkg-config --cflags --libs modsynclog)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="${1:-/usr/local}"
DEST="${DESTDIR:-}$PREFIX"
cd "$ROOT"
cargo build --release -p modsynclog-ffi
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
install -d "$DEST/lib" "$DEST/include" "$DEST/lib/pkgconfig"
install -m 0755 target/release/libmodsynclog.so "$DEST/lib/"
install -m 0644 target/release/libmodsynclog.a "$DEST/lib/"
install -m 0644 ffi-c/include/modsynclog.h "$DEST/include/"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" ffi-c/modsynclog.pc.in >"$DEST/lib/pkgconfig/modsynclog.pc"
echo "installed libmodsynclog $VERSION under $DEST"
