#!/usr/bin/env bash
# Tests of the Go SDK (module modsynclog.dev/go in go/): gofmt, go vet, a drift check of
# the generated protobuf code (when protoc is installed), then go test against real
# servers (target/debug/modsynclog-server, or $MODSYNCLOG_SERVER_BIN).
#
# Builds libmodsynclog, the server and modsynclog-testcerts when one is missing
# (cargo build -p ...), unless MSL_SKIP_BUILD=1. Skips, and says so, when `go` is not
# installed. Ends with `go: N passed, M failed, K skipped`; exits non-zero on failure.
# Extra arguments go to `go test` (e.g. -run TestFollow, -v).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

if ! command -v go >/dev/null 2>&1; then
    echo "go: skipped (go not installed)"
    exit 0
fi

if [ "${MSL_SKIP_BUILD:-0}" != 1 ]; then
    need=()
    [ -f "$repo/target/debug/libmodsynclog.so" ] || need+=(-p modsynclog-ffi)
    [ -n "${MODSYNCLOG_SERVER_BIN:-}" ] || [ -x "$repo/target/debug/modsynclog-server" ] || need+=(-p modsynclog-server)
    [ -n "${MODSYNCLOG_TESTCERTS_BIN:-}" ] || [ -x "$repo/target/debug/modsynclog-testcerts" ] || need+=(-p modsynclog-testcerts)
    if [ ${#need[@]} -gt 0 ]; then
        echo "== cargo build ${need[*]}"
        if ! (cd "$repo" && cargo build "${need[@]}"); then
            echo "go: 0 passed, 1 failed (cargo build)"
            exit 1
        fi
    fi
fi

cd "$here"
fail=0

echo "== gofmt -l"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "FAIL: not gofmt-clean:"
    echo "$unformatted"
    fail=1
fi

echo "== go vet ./..."
go vet ./... || fail=1

if command -v "${PROTOC:-protoc}" >/dev/null 2>&1; then
    echo "== generated code is current (generate.sh)"
    gen="$(mktemp -d)"
    if ./generate.sh "$gen" >/dev/null &&
        diff -u modsynclog_v1/grpc_proto_log/grpc_proto_log.pb.go "$gen/modsynclog_v1/grpc_proto_log/grpc_proto_log.pb.go"; then
        echo "ok: no drift"
    else
        echo "FAIL: modsynclog_v1/grpc_proto_log/grpc_proto_log.pb.go is stale: run go/generate.sh"
        fail=1
    fi
    rm -rf "$gen"
else
    echo "== generated code: not checked (protoc not installed)"
fi

echo "== go test ./..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
go test -count=1 -timeout 300s -v ./... "$@" >"$log" 2>&1
rc=$?
# our lines only: results, failure messages, package summaries
# (Test*Child run only in the child processes their parent tests start: skipped here)
grep -E '^(\s*--- (FAIL|SKIP)|\s+[a-z_]+_test\.go:[0-9]+:|ok |FAIL|panic:)' "$log" |
    grep -v -e 'SKIP: Test[A-Za-z]*Child ' -e 'in a child process$'
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -E '^\s*--- SKIP' "$log" | grep -cv 'SKIP: Test[A-Za-z]*Child ')
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    tail -50 "$log" # a build failure, a panic or a timeout
    failed=1
fi
[ "$rc" -eq 0 ] || fail=1
echo "go: $passed passed, $failed failed, $skipped skipped"
exit $fail
