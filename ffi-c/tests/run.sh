#!/usr/bin/env bash
# C tests of libmodsynclog, in plain C11 against a real server.
#
#   ffi-c/tests/run.sh             (from anywhere; needs cargo, gcc; valgrind when installed)
#   MSL_NO_VALGRIND=1 ffi-c/tests/run.sh   to skip valgrind
#
# Builds the library (debug), checks the committed header is current, compiles every
# ffi-c/tests/*.c, the README quickstart and examples/c with
# `gcc -std=c11 -Wall -Wextra -Werror -pedantic`, starts target/debug/modsynclog-server on a
# free port in a temporary folder, runs the tests (under valgrind: no definite leaks, no
# invalid accesses), stops the server and reads its folder back. `security` runs against
# more servers: one with --token, and (when the server has --tls-cert) one with TLS and a
# token and one with mTLS, using certificates from target/debug/modsynclog-testcerts.
# Ends with the plain line `c: N passed, M failed`; exits non-zero when anything failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

passed=0
failed=0
TMP="$(mktemp -d)"
SERVER_PID=""
EXTRA_PIDS=()
cleanup() {
    for pid in "$SERVER_PID" "${EXTRA_PIDS[@]}"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
finish() {
    echo
    echo "c: $passed passed, $failed failed"
    [[ $failed -eq 0 ]]
    exit $?
}

step "build libmodsynclog (debug) and the server"
# MSL_FFI_BUILT=1 (scripts/test.sh, right after `cargo test --workspace`): that build made
# the library already, with the workspace's features; `cargo build -p modsynclog-ffi`
# would compile the core again for the FFI crate's own features (about 100 s here).
# It is put where the other scripts look for it, as cargo build would.
if [[ -n "${MSL_FFI_BUILT:-}" && -e target/debug/deps/libmodsynclog.so && -e target/debug/deps/libmodsynclog.a ]]; then
    cp -f target/debug/deps/libmodsynclog.so target/debug/deps/libmodsynclog.a target/debug/
    header_test=(cargo test -q --workspace --test header)
else
    cargo build -p modsynclog-ffi || { fail "cargo build -p modsynclog-ffi"; finish; }
    header_test=(cargo test -q -p modsynclog-ffi --test header)
fi
if [[ ! -x target/debug/modsynclog-server ]]; then
    cargo build -p modsynclog-server --bin modsynclog-server || { fail "cargo build -p modsynclog-server"; finish; }
fi
if [[ ! -x target/debug/modsynclog-testcerts ]]; then
    cargo build -p modsynclog-testcerts --bin modsynclog-testcerts || { fail "cargo build -p modsynclog-testcerts"; finish; }
fi
LIBDIR="$ROOT/target/debug"
INCDIR="$ROOT/ffi-c/include"

step "the committed header is current"
if "${header_test[@]}" >"$TMP/header.log" 2>&1; then
    pass "ffi-c/include/modsynclog.h matches cbindgen's output"
else
    cat "$TMP/header.log"
    fail "ffi-c/include/modsynclog.h is stale: run MSL_UPDATE_HEADER=1 cargo test -p modsynclog-ffi --test header"
fi

step "compile (gcc -std=c11 -Wall -Wextra -Werror -pedantic)"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1)
compile() { # OUT SRC...
    local out="$1"
    shift
    if gcc "${CFLAGS[@]}" -I"$INCDIR" -o "$out" "$@" -L"$LIBDIR" -lmodsynclog -Wl,-rpath,"$LIBDIR"; then
        pass "compile $(basename "$out")"
    else
        fail "compile $(basename "$out")"
    fi
}
TESTS=()
for src in ffi-c/tests/*.c; do
    name="$(basename "$src" .c)"
    compile "$TMP/$name" "$src"
    TESTS+=("$name")
done
# The quickstart of ffi-c/README.md, exactly as printed there.
awk '/<!-- quickstart:begin -->/{on=1; next} /<!-- quickstart:end -->/{on=0} on && !/^```/' ffi-c/README.md \
    >"$TMP/quickstart.c"
compile "$TMP/quickstart" "$TMP/quickstart.c"
if make -s -C examples/c LIBDIR="$LIBDIR" INCDIR="$INCDIR" CFLAGS="${CFLAGS[*]} -Wl,-rpath,$LIBDIR" \
    quickstart follower producer >/dev/null; then
    for e in quickstart follower producer; do cp "examples/c/$e" "$TMP/example-$e"; done
    pass "make -C examples/c LIBDIR=... INCDIR=..."
else
    fail "make -C examples/c"
fi
make -s -C examples/c clean >/dev/null 2>&1
[[ $failed -eq 0 ]] || finish

VALGRIND=()
if [[ -z "${MSL_NO_VALGRIND:-}" ]] && command -v valgrind >/dev/null; then
    # Tokio's runtime threads stay alive until exit ("possibly lost" / "still reachable"):
    # only definite leaks and invalid accesses fail.
    # ffi-c/tests/valgrind.supp: memcheck's false positives in ring's AEAD assembly (TLS).
    VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
        --show-leak-kinds=definite --track-origins=yes --suppressions="$ROOT/ffi-c/tests/valgrind.supp")
    echo "valgrind: ${VALGRIND[*]}"
else
    echo "valgrind: not used"
fi

# run LABEL PROGRAM ARGS...: runs a test program (under valgrind), adds up its RESULT line.
run() {
    local label="$1"
    shift
    local log="$TMP/$label.log"
    timeout 900 "${VALGRIND[@]}" "$@" >"$log" 2>&1
    local rc=$?
    grep -E '^(ok|FAIL|#)' "$log" | sed "s/^/[$label] /"
    local line
    line="$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+' "$log" | tail -1)"
    if [[ -n "$line" ]]; then
        local p f
        p="$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")"
        f="$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")"
        passed=$((passed + p))
        failed=$((failed + f))
    fi
    if [[ $rc -eq 99 ]]; then
        sed -n '/^==[0-9]*==/p' "$log" | head -60
        fail "$label: valgrind found errors (definite leaks or invalid accesses)"
    elif [[ $rc -ne 0 && -z "$line" ]]; then
        tail -20 "$log"
        fail "$label: exited with $rc"
    elif [[ $rc -eq 0 && ${#VALGRIND[@]} -gt 0 ]]; then
        pass "$label: valgrind clean"
    fi
}

# A plain program (example or quickstart): passes when it exits 0.
run_plain() {
    local label="$1"
    shift
    if timeout 900 "${VALGRIND[@]}" "$@" >"$TMP/$label.log" 2>&1; then
        pass "$label: $(tail -1 "$TMP/$label.log")"
    else
        tail -20 "$TMP/$label.log"
        fail "$label exited with an error"
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server NAME PORT DATA [FLAGS...]: starts a server on 127.0.0.1:PORT storing into
# DATA, waits until the port answers; its pid is in $STARTED_PID.
start_server() {
    local name="$1" port="$2" data="$3"
    shift 3
    mkdir -p "$data"
    target/debug/modsynclog-server --data-dir "$data" --grpc-addr "127.0.0.1:$port" --sync-addr off \
        --fsync never --utc "$@" >"$TMP/$name.log" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$STARTED_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        cat "$TMP/$name.log"
        fail "the $name server did not start on 127.0.0.1:$port"
        finish
    fi
    echo "$name server pid $STARTED_PID on 127.0.0.1:$port, data in $data"
}

step "start the server"
PORT="$(free_port)"
ADDR="127.0.0.1:$PORT"
DATA="$TMP/data"
start_server main "$PORT" "$DATA"
SERVER_PID=$STARTED_PID

step "errors and bad input"
run errors "$TMP/errors" "$ADDR" "$TMP/no-such-folder"

step "security: a token server, and TLS / mTLS servers when the server binary has --tls-cert"
AUTH_PORT="$(free_port)"
start_server auth "$AUTH_PORT" "$TMP/auth-data" --token s3cret
EXTRA_PIDS+=("$STARTED_PID")
SECURITY_ARGS=("127.0.0.1:$AUTH_PORT" "$TMP/auth-data")
if target/debug/modsynclog-server --help 2>/dev/null | grep -q -- '--tls-cert'; then
    CERTS="$TMP/certs"
    if target/debug/modsynclog-testcerts "$CERTS"; then
        TLS_PORT="$(free_port)"
        start_server tls "$TLS_PORT" "$TMP/tls-data" --token s3cret \
            --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
        EXTRA_PIDS+=("$STARTED_PID")
        MTLS_PORT="$(free_port)"
        start_server mtls "$MTLS_PORT" "$TMP/mtls-data" \
            --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" --tls-client-ca "$CERTS/ca.pem"
        EXTRA_PIDS+=("$STARTED_PID")
        SECURITY_ARGS+=("$TLS_PORT" "$MTLS_PORT" "$CERTS" "$TMP/tls-data")
    else
        fail "target/debug/modsynclog-testcerts $CERTS"
    fi
else
    echo "# the server has no --tls-cert: TLS checks skipped"
fi
run security "$TMP/security" "${SECURITY_ARGS[@]}"
for pid in "${EXTRA_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
    if wait "$pid"; then pass "security server $pid stopped cleanly"; else fail "security server $pid exit status $?"; fi
done
EXTRA_PIDS=()

step "write: 10,000 records through the global SDK, 4 x 10,000 through one producer"
run roundtrip-write "$TMP/roundtrip" write "$ADDR"

step "README quickstart and examples/c against the server"
run_plain quickstart "$TMP/quickstart" "$ADDR"
run_plain example-quickstart "$TMP/example-quickstart" "$ADDR"
# The follower prints the 25 records the producer commits once it follows.
"${VALGRIND[@]}" "$TMP/example-follower" "$DATA" 25 >"$TMP/follower.out" 2>"$TMP/follower.err" &
FOLLOWER_PID=$!
EXTRA_PIDS+=("$FOLLOWER_PID")
for _ in $(seq 1 300); do grep -q '^following' "$TMP/follower.err" && break; sleep 0.1; done
run_plain example-producer "$TMP/example-producer" "$ADDR" 25
if timeout 60 tail --pid="$FOLLOWER_PID" -f /dev/null && wait "$FOLLOWER_PID" && [[ $(wc -l <"$TMP/follower.out") -eq 25 ]]; then
    pass "example-follower: $(tail -1 "$TMP/follower.err")"
else
    cat "$TMP/follower.err"
    fail "example-follower did not print the 25 records"
fi
EXTRA_PIDS=()

step "stop the server (SIGTERM)"
kill -TERM "$SERVER_PID"
if wait "$SERVER_PID"; then pass "server stopped cleanly"; else fail "server exit status $?"; fi
SERVER_PID=""

step "read the server's folder back"
run roundtrip-verify "$TMP/roundtrip" verify "$DATA"
mkdir -p "$TMP/empty"
run follow "$TMP/follow" "$TMP/empty"

finish
