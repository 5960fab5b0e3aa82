#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, and the Rust test suites
# (store, reader, wire codecs, server, replica, SDK, CLI, HTTP API, end-to-end), the
# packaging checks, the C, Go, Python, Node, web console (headless Chromium) and
# cross-language suites, and the Go interop harness.
# Usage: scripts/test.sh            (from anywhere; CI calls it through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long the one before it took (CI must stay under 25 minutes).
started=$SECONDS
last=$SECONDS
step() {
    if ((SECONDS > started)); then printf '    (%d s)\n' $((SECONDS - last)); fi
    last=$SECONDS
    printf '\n==> %s\n' "$*"
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
# etcd for the agent's config-centre test (Debian packages; nothing when installed).
bash scripts/etcd.sh install
cargo test --workspace --locked

step "packaging: systemd units (systemd-analyze verify), Grafana dashboard, sample config"
# Checks the units against the debug binaries `cargo test` built.
bash packaging/check.sh

step "C: libmodsynclog tests (gcc, valgrind when installed)"
# `cargo test` above built the library (see ffi-c/tests/run.sh).
MSL_FFI_BUILT=1 bash ffi-c/tests/run.sh

step "Go: the Go SDK (go/): gofmt, go vet, go test against real servers"
bash go/test.sh

step "Python: pip install ./python, then pytest"
bash python/test.sh

step "Node: npm install ./node, then node --test"
bash node/test.sh

step "web console: headless Chromium drives the console of a debug server (web/browser-test)"
# Debian's chromium (nothing when installed); `cargo test` above built the debug binaries.
bash scripts/chromium.sh install
(cd web/browser-test && npm ci --no-audit --no-fund --loglevel=error && node console.test.mjs)

step "cross-language: C, Python and Node commit to one server; a replica; three readers agree"
bash interop/cross-language/run.sh

step "examples: quickstart, follower and producer in Rust, C, Python, Node and Go against one server"
# The builds above made them (Rust examples, libmodsynclog, the venv, the addon); checks what they stored and printed.
bash scripts/examples.sh

step "full disk: five SDKs fill a small tmpfs, get NoSpace, resume once space is freed (skipped unless root)"
# `cargo test --workspace` above built its Rust writer (an example of the core); building
# it again with `-p` alone would re-unify features and compile the core again (~2 min).
MSL_SKIP_BUILD=1 bash scripts/full-disk.sh

step "kill -9 soak (short): C, Python and Rust producers and two replicas across 5 server kills"
bash scripts/soak.sh 5

step "interop with the original Go code (go-filelog, go-socket; the original SDK and replica patterns)"
# `cargo test` above built the debug binaries the harness runs.
MSL_SKIP_BUILD=1 bash interop/run.sh

step "done"
echo "all checks passed in $((SECONDS - started)) s"
