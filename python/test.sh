#!/usr/bin/env bash
# Builds the Python package into a venv under target/ and runs its tests against a real
# server (target/debug/modsynclog-server, or $MODSYNCLOG_SERVER_BIN).
# Prints pytest's summary line; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$repo/target/pyenv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ -z "${MODSYNCLOG_SERVER_BIN:-}" ] && [ ! -x "$repo/target/debug/modsynclog-server" ]; then
    (cd "$repo" && cargo build --workspace)
fi
# That the committed stub is what the annotations in src/ give is a Rust test
# (python/tests/stub.rs), run by `cargo test --workspace`.
log="$repo/target/pyenv-install.log"
# The tests build the extension with the dev profile (shares target/debug with `cargo
# test`; the release build with LTO takes minutes on a small CI machine); users get release.
if ! MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/pip" install --quiet --disable-pip-version-check "$here" pytest mypy >"$log" 2>&1; then
    cat "$log" >&2
    echo "pip install ./python failed" >&2
    exit 1
fi
cd "$here"
out="$repo/target/pytest.log"
set +e
"$venv/bin/pytest" -q -p no:cacheprovider tests "$@" >"$out" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    cat "$out"
fi
tail -n 1 "$out"
exit $rc
