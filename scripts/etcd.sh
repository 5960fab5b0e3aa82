#!/usr/bin/env bash
# etcd for the agent's config-centre tests: Debian's `etcd-server` (etcd 3.4) and
# `etcd-client` (etcdctl). The tests start their own member on loopback ports.
#
# Usage:
#   scripts/etcd.sh install    install both packages unless etcd and etcdctl are on PATH
#                              (needs root; runs `apt-get update` only if the first
#                              install attempt cannot find the packages)
set -euo pipefail

case "${1:-help}" in
install)
    if command -v etcd > /dev/null && command -v etcdctl > /dev/null; then
        exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "etcd.sh: etcd is not installed and this is not root: install Debian's etcd-server and etcd-client" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q etcd-server etcd-client > /dev/null 2>&1; then
        apt-get update -q > /dev/null
        apt-get install -y -q etcd-server etcd-client > /dev/null
    fi
    # The package enables a system service; the tests run their own member.
    if command -v systemctl > /dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now etcd > /dev/null 2>&1 || true
    fi
    etcd --version | head -1
    ;;
*)
    sed -n '2,10p' "$0"
    ;;
esac
