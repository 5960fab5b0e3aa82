// Package origsdk behaves like the SDK of the original go-modsynclog: each log kind has
// a handle made once with grpc.Dial(address, grpc.WithInsecure()) (one long-lived,
// lazily connected HTTP/2 connection per handle, never closed by the original), and every
// record is one unary call on it with context.Background() and no deadline, carrying
// DataType 1001 (DbLog: protobuf DbLogData bytes), 1101 (AppLog: protobuf AppLogData
// bytes) or 1201 (JsonLog: JSON bytes). A reply with errCode != 0 is an error carrying
// errMessage. Callers share a handle across goroutines, as applications do with the
// original's package-level handles.
//
// It is written from the original's documented behaviour (see SPEC.md section 3 and
// interop/README.md); no code of the original is copied. The only additions are Close and
// the *Raw methods, which send a ready payload (the benchmark's records) and return the
// reply so that tests can check errCode/errMessage.
package origsdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	pb "modsynclog/interop/grpc_proto_log"
)

// The data types the original SDK sends.
const (
	TypeDbLog   int32 = 1001
	TypeAppLog  int32 = 1101
	TypeJsonLog int32 = 1201
)

// Kind selects the gRPC method.
type Kind int

const (
	DbLog Kind = iota
	AppLog
	JsonLog
)

func (k Kind) String() string {
	switch k {
	case DbLog:
		return "DbLogWrite"
	case AppLog:
		return "AppLogWrite"
	case JsonLog:
		return "JsonLogWrite"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// DataType is the type the original SDK sends for this kind.
func (k Kind) DataType() int32 {
	switch k {
	case AppLog:
		return TypeAppLog
	case JsonLog:
		return TypeJsonLog
	}
	return TypeDbLog
}

// Reply is the server's answer (errCode, errMessage, data).
type Reply struct {
	ErrCode    int32
	ErrMessage string
	Data       string
}

// Handle is one SDK handle: one grpc.ClientConn, one unary call per record.
type Handle struct {
	kind     Kind
	dataType int32
	conn     *grpc.ClientConn
	client   pb.LogClient
}

// New makes a handle the way the original NewSdkDbLog/NewSdkAppLog/NewSdkJsonLog do:
// grpc.Dial with WithInsecure and nothing else (non-blocking: the connection is made by
// the first call; the original only logs a Dial error and keeps the handle).
func New(kind Kind, address string) (*Handle, error) {
	//nolint:staticcheck // grpc.Dial and WithInsecure are what the original SDK calls.
	conn, err := grpc.Dial(address, grpc.WithInsecure())
	if err != nil {
		return nil, err
	}
	return &Handle{kind: kind, dataType: kind.DataType(), conn: conn, client: pb.NewLogClient(conn)}, nil
}

// Kind of this handle.
func (h *Handle) Kind() Kind { return h.kind }

// Close closes the connection (the original never does).
func (h *Handle) Close() error { return h.conn.Close() }

// WriteRaw sends one record with this handle's data type: one unary call, context.Background().
func (h *Handle) WriteRaw(data []byte) (Reply, error) {
	return h.WriteTyped(h.dataType, data)
}

// WriteTyped is WriteRaw with another DataType in the request (the original always sends
// its kind's type).
func (h *Handle) WriteTyped(dataType int32, data []byte) (Reply, error) {
	ctx := context.Background()
	switch h.kind {
	case DbLog:
		r, err := h.client.DbLogWrite(ctx, &pb.DbLogRequest{DataType: dataType, Data: data})
		if err != nil {
			return Reply{}, err
		}
		return Reply{r.GetErrCode(), r.GetErrMessage(), r.GetData()}, nil
	case AppLog:
		r, err := h.client.AppLogWrite(ctx, &pb.AppLogRequest{DataType: dataType, Data: data})
		if err != nil {
			return Reply{}, err
		}
		return Reply{r.GetErrCode(), r.GetErrMessage(), r.GetData()}, nil
	case JsonLog:
		r, err := h.client.JsonLogWrite(ctx, &pb.JsonLogRequest{DataType: dataType, Data: data})
		if err != nil {
			return Reply{}, err
		}
		return Reply{r.GetErrCode(), r.GetErrMessage(), r.GetData()}, nil
	}
	return Reply{}, fmt.Errorf("unknown kind %d", h.kind)
}

// Add is the original's error contract on top of WriteRaw: a transport error, or
// errMessage when errCode != 0.
func (h *Handle) Add(data []byte) error {
	r, err := h.WriteRaw(data)
	if err != nil {
		return err
	}
	if r.ErrCode != 0 {
		return errors.New(r.ErrMessage)
	}
	return nil
}

// AddDbLog is SdkDbLogAddGRpc: the record is proto.Marshal(DbLogData).
func (h *Handle) AddDbLog(d *pb.DbLogData) ([]byte, error) {
	b, err := proto.Marshal(d)
	if err != nil {
		return nil, err
	}
	return b, h.Add(b)
}

// AddAppLog is SdkAppLogAddGRpc: the record is proto.Marshal(AppLogData).
func (h *Handle) AddAppLog(d *pb.AppLogData) ([]byte, error) {
	b, err := proto.Marshal(d)
	if err != nil {
		return nil, err
	}
	return b, h.Add(b)
}

// AddJson is SdkJsonLogAddGRpc: the record is the JSON encoding of v.
func (h *Handle) AddJson(v interface{}) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, h.Add(b)
}
