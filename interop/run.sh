#!/usr/bin/env bash
# Interop harness: the real Go go-filelog / go-socket code, and the original SDK's and
# replica's patterns (go/origsdk, go/origreplica), against our Rust binaries; plus a
# small smoke run of the go/cmd/origbench benchmark.
# Prints a final line `interop: N passed, M failed` (N/M count tests and subtests).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if ! command -v go >/dev/null 2>&1; then
	echo "interop: skipped (go not installed)"
	exit 0
fi

if [ "${MSL_SKIP_BUILD:-0}" != 1 ]; then
	if ! (cd "$root" && cargo build --workspace); then
		echo "cargo build failed" >&2
		echo "interop: 0 passed, 1 failed"
		exit 1
	fi
fi

export MSL_SERVER_BIN="${MSL_SERVER_BIN:-$root/target/debug/modsynclog-server}"
export MSL_CLIENT_BIN="${MSL_CLIENT_BIN:-$root/target/debug/modsynclog-client}"
export MSL_VECTORS="${MSL_VECTORS:-${MODSYNCLOG_VECTORS:-$root/../shared/vectors}}"
export GOFLAGS=-mod=mod

log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$here/go" && go test -count=1 -v -timeout 110s ./...) >"$log" 2>&1
rc=$?
# our own lines only (the Go libraries and our servers print a lot)
grep -E '^(=== RUN|\s*--- (PASS|FAIL|SKIP)|\s+[a-z_]+_test\.go:[0-9]+:|PASS$|FAIL|ok |panic:)' "$log"
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	tail -50 "$log"
	failed=1
fi
echo "interop: $passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
