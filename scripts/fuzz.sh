#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder of outside bytes (cargo-fuzz, libFuzzer, nightly).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   run each target in turn (default 600 s, all)
#        scripts/fuzz.sh --list                             list the targets
#
# Each target runs alone, under `nice -n 10`, from its committed corpus (fuzz/corpus/<target>/,
# where libFuzzer also adds what it finds); afterwards a merge (`cargo fuzz cmin`) shrinks that corpus
# back to the inputs that matter, and a line per target gives executions, coverage (libFuzzer's
# `cov:` edges and `ft:` features), corpus size and crashes. A crash stops its target; the input
# is in fuzz/artifacts/<target>/: save it as fuzz/regressions/<target>/<name> (the stable test
# core/tests/fuzz_corpus.rs replays it) and fix the bug. Exits non-zero if anything crashed.
# Logs: fuzz/target/fuzz-logs/<target>.log. Environment: FUZZ_ARGS adds libFuzzer flags.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^modsynclog-fuzz$'; }

if [[ "${1:-}" == "--list" ]]; then
    targets
    exit 0
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

seconds=600
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
if [[ $# -gt 0 ]]; then
    selected=("$@")
    for t in "${selected[@]}"; do
        targets | grep -qx "$t" || { echo "unknown target $t (scripts/fuzz.sh --list)" >&2; exit 2; }
    done
else
    mapfile -t selected < <(targets)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "the nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "==> building the fuzz targets (release, debug assertions, AddressSanitizer)"
nice -n 10 cargo +nightly fuzz build
# The binaries are run directly, so that the whole run uses this build (`cargo fuzz run`
# would rebuild whenever a source file changes in the meantime).
bin="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

logs=target/fuzz-logs
mkdir -p "$logs"
results=()
crashed=0
for t in "${selected[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "==> $t: ${seconds} s"
    set +e
    # -timeout: an input running 10 s counts as a hang (a crash); -rss_limit_mb: so does 2 GiB.
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
    nice -n 10 "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_ARGS:-} "corpus/$t" >"$logs/$t.log" 2>&1
    status=$?
    set -e
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then
        echo "   libFuzzer exited with $status and no artifact; see fuzz/$logs/$t.log" >&2
        crashes="?"
    fi
    [[ "$crashes" == "0" ]] || crashed=1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$logs/$t.log" | tail -1 | cut -d' ' -f2)
    grown=$(find "corpus/$t" -type f | wc -l)
    # Keep the committed corpus to the inputs that add coverage (what `cargo fuzz cmin` does),
    # counting edges only (-use_counters=0): a few hundred files instead of thousands, and the
    # hit-count features the others added come back within seconds of the next run.
    rm -rf "corpus/$t.cmin"
    mkdir "corpus/$t.cmin"
    if nice -n 10 "$bin/$t" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 "corpus/$t.cmin" "corpus/$t" \
        >"$logs/$t.cmin.log" 2>&1; then
        rm -rf "corpus/$t"
        mv "corpus/$t.cmin" "corpus/$t"
    else
        rm -rf "corpus/$t.cmin"
        echo "   cmin failed; see fuzz/$logs/$t.cmin.log" >&2
    fi
    files=$(find "corpus/$t" -type f | wc -l)
    size=$(du -sh "corpus/$t" | cut -f1)
    line=$(printf '%-16s %6ss execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %s files (%s; %s before cmin) crashes %s' \
        "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$files" "$size" "$grown" "$crashes")
    echo "   $line"
    results+=("$line")
done

echo
echo "==> summary ($(date -u +%Y-%m-%dT%H:%MZ))"
printf '%s\n' "${results[@]}"
if [[ $crashed -ne 0 ]]; then
    echo "crashes found: see fuzz/artifacts/<target>/ and the logs in fuzz/$logs/" >&2
    exit 1
fi
