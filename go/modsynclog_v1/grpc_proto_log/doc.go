// Package grpc_proto_log has the protobuf messages of the legacy ingest service
// (../../../proto/grpc_proto_log.proto): DbLogData and AppLogData, the payloads of data
// types 1001 and 1101, with the field names of the original Go SDK's package
// github.com/loudbund/go-modsynclog/modsynclog_v1/grpc_proto_log. Only the messages are
// generated (no gRPC client): regenerate with ../../generate.sh.
package grpc_proto_log
