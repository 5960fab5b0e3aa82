#!/usr/bin/env bash
# Builds the Node addon through its npm install script, checks the generated TypeScript
# API for drift, runs the node:test suite against a real server, and checks that
# `npm install <repo>/node` works from another folder. Exits non-zero on any failure.
#
# Env: MODSYNCLOG_SERVER_BIN (default ../target/debug/modsynclog-server, built if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ -z "${MODSYNCLOG_SERVER_BIN:-}" && ! -x "$repo/target/debug/modsynclog-server" ]]; then
  echo "== building the debug server"
  (cd "$repo" && cargo build -p modsynclog-server)
fi

# The tests build the addon unoptimised (the install script's release build with LTO
# takes minutes on a small CI machine); users get the release build.
export MODSYNCLOG_NODE_DEBUG_BUILD=1

echo "== npm install (builds the addon via the install script)"
# Keep the reviewed copies to compare with what the build generates.
for f in index.d.ts index.js; do
  if [[ -f "$f" ]]; then cp "$f" "$work/$f.before"; fi
done
npm install --no-audit --no-fund 2>&1 | grep -v -e EBADENGINE -e "^npm warn EBADENGINE" -e "^npm warn Unknown user config" || true
[[ -f modsynclog.linux-x64-gnu.node ]] || { echo "FAIL: the addon was not built"; exit 1; }

echo "== TypeScript API drift (index.d.ts) and loader (index.js)"
drift=0
for f in index.d.ts index.js; do
  if [[ -f "$work/$f.before" ]]; then
    if ! diff -u "$work/$f.before" "$f"; then
      echo "FAIL: the build changed $f; review the diff and keep the new file if intended"
      drift=1
    fi
  else
    echo "note: $f did not exist before; generated now (commit it)"
  fi
done
[[ $drift == 0 ]] || exit 1
echo "ok: no drift"

echo "== npm test"
npm test

echo "== npm install $here from a temporary folder"
app="$work/app"
mkdir -p "$app"
(
  cd "$app"
  npm init -y >/dev/null
  # npm 11 wants dependency install scripts approved: the project-scoped way is the
  # package.json "allowScripts" field (`--allow-scripts` is refused for project installs).
  node -e "
    const fs = require('fs'); const p = JSON.parse(fs.readFileSync('package.json'))
    const rel = require('path').relative(process.cwd(), process.argv[1])
    // a folder dependency is approved by its file: spec (what \`npm install-scripts approve\` writes)
    p.allowScripts = { ['file:' + rel]: true }; fs.writeFileSync('package.json', JSON.stringify(p, null, 2))
  " "$here"
  # npm links a folder dependency and runs its install script in place: cargo finds the
  # addon up to date, so this does not rebuild it (the napi CLI still takes a little while).
  npm install --no-audit --no-fund "$here" 2>&1 \
    | grep -v -e EBADENGINE -e "^npm warn EBADENGINE" -e "^npm warn Unknown user config" || true
  node -e "
    const m = require('modsynclog')
    for (const name of ['init', 'commit', 'flush', 'close', 'Producer', 'Reader']) {
      if (typeof m[name] !== 'function') throw new Error('missing export ' + name)
    }
    try { m.commit(1, 'x') } catch (e) { if (e.code !== 'NotInitialized') throw e }
    console.log('ok: require(\"modsynclog\") from', process.cwd())
  "
)
echo "== all Node checks passed"
