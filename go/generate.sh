#!/usr/bin/env bash
# Regenerates the committed Go protobuf types of the legacy service
# (modsynclog_v1/grpc_proto_log/grpc_proto_log.pb.go) from ../proto/grpc_proto_log.proto.
#
#   go/generate.sh [OUT]   OUT: root of the module tree to write (default: go/ itself);
#                          test.sh generates into a temporary OUT to check for drift.
#
# Needs protoc (PROTOC=/path/to/protoc to choose one). protoc-gen-go is built from the
# google.golang.org/protobuf version pinned in go.mod, so the generated code always
# matches the runtime the module uses. Tests never need this: the output is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$here}"
protoc="${PROTOC:-protoc}"
command -v "$protoc" >/dev/null || { echo "generate.sh: protoc not found (set PROTOC)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)

mkdir -p "$out"
mod=modsynclog.dev/go
"$protoc" --plugin=protoc-gen-go="$tmp/protoc-gen-go" \
    -I "$repo/proto" \
    --go_out="$out" \
    --go_opt=module="$mod" \
    --go_opt=Mgrpc_proto_log.proto="$mod/modsynclog_v1/grpc_proto_log;grpc_proto_log" \
    grpc_proto_log.proto
if [ -n "$(gofmt -l "$out/modsynclog_v1/grpc_proto_log")" ]; then
    echo "generate.sh: the output is not gofmt-clean" >&2
    exit 1
fi
echo "generated $out/modsynclog_v1/grpc_proto_log/grpc_proto_log.pb.go"
