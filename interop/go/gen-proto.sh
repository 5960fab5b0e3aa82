#!/usr/bin/env bash
# Regenerates the Go stubs of grpc_proto_log (interop/go/grpc_proto_log/) from
# proto/grpc_proto_log.proto. Needs protoc; installs the two Go plugins (pinned to the
# versions the stubs were made with, which match go.mod's runtime) into $(go env GOPATH)/bin.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PROTOC_GEN_GO=${PROTOC_GEN_GO:-v1.36.5}
PROTOC_GEN_GO_GRPC=${PROTOC_GEN_GO_GRPC:-v1.5.1}

gobin=$(go env GOPATH)/bin
if [ "$("$gobin/protoc-gen-go" --version 2>/dev/null)" != "protoc-gen-go $PROTOC_GEN_GO" ]; then
	go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
fi
if [ "$("$gobin/protoc-gen-go-grpc" --version 2>/dev/null)" != "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC#v}" ]; then
	go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"
fi

pkg=modsynclog/interop/grpc_proto_log
out="$here/grpc_proto_log"
mkdir -p "$out"
PATH="$gobin:$PATH" protoc -I "$root/proto" \
	--go_out="$out" --go_opt=paths=source_relative --go_opt="Mgrpc_proto_log.proto=$pkg;grpc_proto_log" \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative --go-grpc_opt="Mgrpc_proto_log.proto=$pkg;grpc_proto_log" \
	grpc_proto_log.proto
echo "generated: $(cd "$out" && ls *.go | tr '\n' ' ')"
