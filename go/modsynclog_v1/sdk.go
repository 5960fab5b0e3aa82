// Package modsynclog_v1 has the SDK API of the original Go SDK
// (github.com/loudbund/go-modsynclog/modsynclog_v1): NewSdkDbLog, NewSdkAppLog,
// NewSdkJsonLog and their Sdk*AddGRpc methods, with the same signatures and data types
// (1001: protobuf DbLogData, 1101: protobuf AppLogData, 1201: JSON). Switching is a
// change of import paths:
//
//	github.com/loudbund/go-modsynclog/modsynclog_v1                -> modsynclog.dev/go/modsynclog_v1
//	github.com/loudbund/go-modsynclog/modsynclog_v1/grpc_proto_log -> modsynclog.dev/go/modsynclog_v1/grpc_proto_log
//
// Records go through the batching producer of package modsynclog (one per address,
// shared by every handle of that address), not one unary gRPC call each. So an Add call
// only queues the record: it is acknowledged later, and a failure to deliver it is
// reported by Flush (or Close), not by the Add call. Call Flush or Close before the
// process exits, or queued records are lost. Configure(Config{WaitAck: true}) makes
// every Add call wait for the server's acknowledgement instead, like the original.
package modsynclog_v1

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"modsynclog.dev/go"
	"modsynclog.dev/go/modsynclog_v1/grpc_proto_log"
)

// Config changes how the handles of this package send. It is not part of the original
// API.
type Config struct {
	// Options of the producers started after Configure (one per address); see
	// modsynclog.Options. Set Legacy to send to an original Go server.
	Options modsynclog.Options
	// WaitAck makes every Sdk*AddGRpc call wait until the server acknowledged the record
	// (a Flush per call; concurrent calls still share batches). Default: the call only
	// queues the record.
	WaitAck bool
}

var (
	mu        sync.Mutex
	options   modsynclog.Options
	producers = map[string]*modsynclog.Producer{}
	waitAck   atomic.Bool
)

// Configure sets the options of producers started from now on and whether Add calls
// wait for the acknowledgement (from now on).
func Configure(c Config) {
	mu.Lock()
	defer mu.Unlock()
	options = c.Options
	waitAck.Store(c.WaitAck)
}

// Flush waits, as long as it takes, until every record committed through this package
// so far is acknowledged by its server. It returns the errors of the producers that
// failed (errors.Join).
func Flush() error { return FlushTimeout(-1) }

// FlushTimeout is Flush that gives up after timeout (per producer; negative: no limit)
// with a modsynclog.ErrTimeout error.
func FlushTimeout(timeout time.Duration) error {
	var errs []error
	for _, p := range started() {
		errs = append(errs, p.FlushTimeout(timeout))
	}
	return errors.Join(errs...)
}

// Close flushes (for at most modsynclog.CloseTimeout each) and stops every producer of
// this package. Handles made before keep failing with modsynclog.ErrClosed; handles made
// after start new producers.
func Close() error {
	mu.Lock()
	ps := producers
	producers = map[string]*modsynclog.Producer{}
	mu.Unlock()
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

func started() []*modsynclog.Producer {
	mu.Lock()
	defer mu.Unlock()
	ps := make([]*modsynclog.Producer, 0, len(producers))
	for _, p := range producers {
		ps = append(ps, p)
	}
	return ps
}

// sender commits one data type to the producer of one address.
type sender struct {
	dataType int16
	producer *modsynclog.Producer
	err      error // why the producer could not start: returned by every send
}

func newSender(dataType int16, gRpcAddress string) sender {
	mu.Lock()
	defer mu.Unlock()
	p, ok := producers[gRpcAddress]
	if !ok {
		var err error
		if p, err = modsynclog.NewProducer(gRpcAddress, options); err != nil {
			return sender{dataType: dataType, err: err}
		}
		producers[gRpcAddress] = p
	}
	return sender{dataType: dataType, producer: p}
}

func (s *sender) send(data []byte) error {
	if s.err != nil {
		return s.err
	}
	if err := s.producer.Commit(s.dataType, data); err != nil {
		return err
	}
	if waitAck.Load() {
		return s.producer.Flush()
	}
	return nil
}

// marshal is proto.Marshal with map entries in a stable order (the bytes decode the same).
var marshal = proto.MarshalOptions{Deterministic: true}.Marshal

// DbLog sends database change logs (data type 1001, protobuf DbLogData).
type DbLog struct{ s sender }

// NewSdkDbLog returns a handle sending to the server at gRpcAddress ("host:port"). A
// bad address is reported by every SdkDbLogAddGRpc call.
func NewSdkDbLog(gRpcAddress string) *DbLog {
	return &DbLog{s: newSender(modsynclog.TypeDbLog, gRpcAddress)}
}

// SdkDbLogAddGRpc queues inData (protobuf bytes) as one record of type 1001.
func (Me *DbLog) SdkDbLogAddGRpc(inData *grpc_proto_log.DbLogData) error {
	data, err := marshal(inData)
	if err != nil {
		return err
	}
	return Me.s.send(data)
}

// AppLog sends application logs (data type 1101, protobuf AppLogData).
type AppLog struct{ s sender }

// NewSdkAppLog returns a handle sending to the server at gRpcAddress ("host:port").
func NewSdkAppLog(gRpcAddress string) *AppLog {
	return &AppLog{s: newSender(modsynclog.TypeAppLog, gRpcAddress)}
}

// SdkAppLogAddGRpc queues inData (protobuf bytes) as one record of type 1101.
func (Me *AppLog) SdkAppLogAddGRpc(inData *grpc_proto_log.AppLogData) error {
	data, err := marshal(inData)
	if err != nil {
		return err
	}
	return Me.s.send(data)
}

// JsonLog sends JSON logs (data type 1201).
type JsonLog struct{ s sender }

// NewSdkJsonLog returns a handle sending to the server at gRpcAddress ("host:port").
func NewSdkJsonLog(gRpcAddress string) *JsonLog {
	return &JsonLog{s: newSender(modsynclog.TypeJsonLog, gRpcAddress)}
}

// SdkJsonLogAddGRpc queues inData, marshalled like the original (encoding/json rules:
// map keys sorted, HTML characters escaped, no whitespace), as one record of type 1201.
// A value that cannot be marshalled is an error (the original sent an empty record).
func (Me *JsonLog) SdkJsonLogAddGRpc(inData interface{}) error {
	data, err := json.Marshal(inData)
	if err != nil {
		return err
	}
	return Me.s.send(data)
}
