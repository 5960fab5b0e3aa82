#!/usr/bin/env bash
# Checks the packaging files: the systemd units (systemd-analyze verify, when it exists),
# the Grafana dashboard (valid JSON, and every modsynclog_* metric it queries is one the
# programs export), the Prometheus config and the sample config's TOML syntax.
# The sample config against the server's own loader is `cargo test -p modsynclog-server
# --test packaging`.
#
# Usage: packaging/check.sh    (from anywhere; exits non-zero on the first failed group)
# The units are verified against the debug binaries, so build them first:
#   cargo build -p modsynclog-server --bins    (CARGO_TARGET_DIR is honoured)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
failed=0
fail() {
    echo "packaging/check.sh: FAIL: $*" >&2
    failed=1
}
note() { echo "packaging/check.sh: $*"; }

# --- systemd units ----------------------------------------------------------------------
# systemd-analyze verify needs each ExecStart= binary to exist: it runs on copies of the
# units whose /usr/local/bin/ paths point at the debug binaries. It does not check that
# User=modsynclog exists (systemd 252 does not look users up when verifying), so the check
# needs no user; the install steps in packaging/README.md create it. Warnings (an unknown
# key, a bad value: systemd ignores those lines and starts anyway) count as failures here.
if command -v systemd-analyze >/dev/null 2>&1; then
    bin="${CARGO_TARGET_DIR:-$repo/target}/debug"
    case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
    missing=""
    for b in modsynclog-server modsynclog-client; do
        [ -x "$bin/$b" ] || missing="$missing $bin/$b"
    done
    if [ -n "$missing" ]; then
        fail "systemd units: missing binaries:$missing (run: cargo build -p modsynclog-server --bins)"
    else
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        for unit in packaging/systemd/*.service; do
            sed "s#/usr/local/bin/#$bin/#g" "$unit" >"$tmp/$(basename "$unit")"
        done
        # A template is verified through an instance of it.
        units=()
        for unit in "$tmp"/*.service; do
            case "$unit" in *@.service) units+=("${unit%@.service}@check.service") ;; *) units+=("$unit") ;; esac
        done
        if out=$(systemd-analyze verify --man=no "${units[@]}" 2>&1) && [ -z "$out" ]; then
            note "systemd-analyze verify: ${#units[@]} units OK"
        else
            fail "systemd-analyze verify:"$'\n'"$out"
        fi
        # The exposure score, for information (systemd 250 and later can rate unit files).
        for unit in "$tmp"/modsynclog-server.service "$tmp"/modsynclog-replica.service; do
            if score=$(systemd-analyze security --offline=true --no-pager "$unit" 2>/dev/null | tail -n 1); then
                note "systemd-analyze security: ${score#→ }"
            fi
        done
    fi
else
    note "systemd-analyze not found: the units are not verified"
fi

# --- Grafana dashboard ------------------------------------------------------------------
dashboard=packaging/grafana/modsynclog.json
json_ok=1
if ! out=$(python3 -m json.tool "$dashboard" 2>&1 >/dev/null); then
    fail "$dashboard is not valid JSON: $out"
    json_ok=0
fi

# Every modsynclog_* metric queried (and process_* ones) must be one that is exported: the
# names of web/API.md's Metrics section, and the Kafka bridge's and the agent's (from their
# sources: kafka/src/*figures.rs, server/src/agent_*.rs, agent/src/figures.rs). A
# histogram's _bucket, _sum and _count series count as the histogram.
if [ "$json_ok" -eq 1 ] && ! python3 - "$dashboard" <<'PY'; then
import json, re, sys

dashboard = json.load(open(sys.argv[1]))

api = open("web/API.md", encoding="utf-8").read()
section = api.split("## Metrics", 1)[1] if "## Metrics" in api else ""
if not section:
    sys.exit("web/API.md has no '## Metrics' section")
known, histograms = set(), set()
for item in re.split(r"\n- ", section):
    for name, labels in re.findall(r"`([a-z][a-z0-9_]*)(\{[^}]*\})?`", item):
        if "_" not in name and not labels:  # a label or its value (`source`, `native`)
            continue
        full = name if name.startswith("process_") else "modsynclog_" + name
        known.add(full)
        if "histogram" in item:
            histograms.add(full)
# The Kafka bridge's and the agent's names, as string literals in their sources: either
# whole ("modsynclog_kafka_import_lag") or without the registry's `modsynclog_` prefix and
# a counter's `_total` suffix ("kafka_import_records"), so both forms are accepted.
sources = ["kafka/src/export_figures.rs", "kafka/src/import/figures.rs", "server/src/agent_run.rs",
           "server/src/agent_metrics.rs", "agent/src/figures.rs"]
for path in sources:
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        continue
    for name in re.findall(r'"(?:modsynclog_)?((?:kafka|agent)_[a-z0-9_]+)"', text):
        known.add("modsynclog_" + name)
        if not name.endswith("_total"):
            known.add("modsynclog_" + name + "_total")

def queries(node, inside=False):
    """The strings of every `expr`, `query` and `definition` (panels and variables)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from queries(v, inside or k in ("expr", "query", "definition"))
    elif isinstance(node, list):
        for v in node:
            yield from queries(v, inside)
    elif isinstance(node, str) and inside:
        yield node

used = set()
for s in queries(dashboard):
    used.update(re.findall(r"\b((?:modsynclog|process)_[a-z0-9_]*[a-z0-9])\b", s))
unknown = []
for name in sorted(used):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name in known or (base != name and base in histograms):
        continue
    unknown.append(name)
if unknown:
    sys.exit("metrics in the dashboard that web/API.md (or the Kafka/agent sources) do not list: "
             + ", ".join(unknown))
print(f"packaging/check.sh: dashboard: {len(used)} metric names, all listed ({len(known)} known)")
PY
    fail "$dashboard: metric names (see above)"
fi

# --- Prometheus config, sample config syntax --------------------------------------------
if ! python3 - <<'PY'; then
import sys
try:
    import yaml
except ImportError:
    yaml = None
if yaml is not None:
    config = yaml.safe_load(open("packaging/prometheus.yml"))
    jobs = [c["job_name"] for c in config["scrape_configs"]]
    assert "modsynclog-server" in jobs, jobs
else:
    print("packaging/check.sh: PyYAML not installed: packaging/prometheus.yml not parsed")
try:
    import tomllib
except ImportError:
    tomllib = None
if tomllib is not None:
    tomllib.load(open("packaging/server.toml", "rb"))
PY
    fail "packaging/prometheus.yml or packaging/server.toml does not parse (see above)"
fi

if [ "$failed" -ne 0 ]; then
    echo "packaging/check.sh: FAILED" >&2
    exit 1
fi
note "OK"
