#!/usr/bin/env bash
# Chromium for the web console's browser test (web/browser-test): Debian's `chromium`
# package, driven headless by puppeteer-core (which downloads no browser of its own).
#
# Usage:
#   scripts/chromium.sh install    install Debian's chromium unless it is on PATH
#                                  (needs root; runs `apt-get update` only if the first
#                                  install attempt cannot find the package)
set -euo pipefail

case "${1:-help}" in
install)
    if command -v chromium > /dev/null; then
        exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "chromium.sh: chromium is not installed and this is not root: install Debian's chromium" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q chromium > /dev/null 2>&1; then
        apt-get update -q > /dev/null
        apt-get install -y -q chromium > /dev/null
    fi
    # (the launcher's /etc/chromium.d scripts may print shell noise on stderr)
    chromium --version 2> /dev/null | head -1
    ;;
*)
    sed -n '2,10p' "$0"
    ;;
esac
