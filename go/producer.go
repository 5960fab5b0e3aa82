package modsynclog

import (
	"runtime"
	"time"
)

// Data types the original Go SDK uses (any int16 may be committed).
const (
	TypeDbLog   int16 = 1001 // protobuf DbLogData
	TypeAppLog  int16 = 1101 // protobuf AppLogData
	TypeJsonLog int16 = 1201 // JSON
)

// CloseTimeout is how long Close waits for outstanding records.
const CloseTimeout = 10 * time.Second

// Options of a Producer (and of InitWithOptions). The zero value of every field means
// the library's default, given in brackets.
type Options struct {
	// Token is sent as "authorization: Bearer <token>" to the native services [none].
	Token string
	// A batch is sent once it holds BatchMaxRecords records [1000]...
	BatchMaxRecords int
	// ...or BatchMaxBytes payload bytes [1 MiB]...
	BatchMaxBytes int
	// ...or its oldest record waited Linger [5 ms; whole milliseconds, rounded up].
	// A negative value sends without lingering.
	Linger time.Duration
	// QueueCapacity is how many records may be queued and not yet sent before Commit
	// waits for room [100 000].
	QueueCapacity int
	// QueueBytes is how many payload bytes may be queued and not yet sent [64 MiB].
	QueueBytes int
	// EnqueueTimeout is how long Commit waits for room in a full queue before
	// ErrQueueFull [5 s]. A negative value does not wait.
	EnqueueTimeout time.Duration
	// MaxRecordLen is the largest payload Commit accepts [4 MiB, the server's default].
	MaxRecordLen int
	// Legacy speaks the unary grpc_proto_log.Log service of the original Go server
	// (one call per record; a record whose reply was lost may be stored twice).
	Legacy bool
	// TLS, for an "https://host:port" address (settings with a plaintext address are
	// refused with InvalidArgument). TLSCAFile: PEM file of the CA(s) of the server's
	// certificate [the system's roots]. TLSCertFile, TLSKeyFile: a client certificate
	// and its key, for a server that requires them (mTLS); both or neither.
	// TLSServerName: the name the server's certificate must carry when it is not the
	// address's host.
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSServerName string
}

// Producer sends records to a modsynclog server in the background: Commit queues (it
// copies the payload and returns without waiting for the network), a background task
// batches and sends, Flush waits until the server acknowledged everything committed
// before it. A Producer is safe for concurrent use by any number of goroutines.
//
// Close stops it; the library's resources are released when the Producer is garbage
// collected (a Producer that was never closed first delivers what it queued, for up to
// 10 s, like msl_producer_free).
type Producer struct {
	ptr *cProducer
}

// NewProducer starts a producer for addr: "host:port" or "http://host:port"
// (plaintext), "https://host:port" (TLS). It connects lazily: an unreachable server is
// retried in the background and not reported here (Flush reports it as a Timeout).
// TLS files are read now (NotFound when missing).
func NewProducer(addr string, opts Options) (*Producer, error) {
	ptr, err := startC(addr, &opts, false)
	if err != nil {
		return nil, err
	}
	p := &Producer{ptr: ptr}
	runtime.AddCleanup(p, freeProducerC, ptr)
	return p, nil
}

// Commit queues one record (the library copies data; the caller may reuse it at once)
// and returns without waiting for the network. When the queue is full it waits up to
// Options.EnqueueTimeout, then fails with QueueFull. Errors: TooLarge over MaxRecordLen,
// Closed after Close, Unauthenticated / PermissionDenied once the server refused the
// credentials (final), NoSpace at once (the record is not queued) while the server reports
// a full disk (not final: what was queued is kept and retried, and commits are accepted
// again once the server stores again). A record the server refuses later is reported by
// Flush.
func (p *Producer) Commit(typ int16, data []byte) error { return p.commitC(typ, data) }

// TryCommit is Commit that never waits: QueueFull at once when the queue has no room.
func (p *Producer) TryCommit(typ int16, data []byte) error { return p.tryCommitC(typ, data) }

// Flush waits, as long as it takes, until every record committed before the call is
// acknowledged by the server. It fails when the server refused records for good (with
// the kind of the refusal, e.g. TooLarge) and at once when it refused the credentials. It
// returns NoSpace at once while the server reports a full disk: the records are kept and
// retried (1 s doubling to 10 s); call Flush again later.
func (p *Producer) Flush() error { return p.flushC(-1) }

// FlushTimeout is Flush that gives up after timeout (whole milliseconds, rounded up;
// negative: no limit) with a Timeout error naming the last failure seen (e.g. a refused
// connection, an untrusted certificate).
func (p *Producer) FlushTimeout(timeout time.Duration) error { return p.flushC(timeout) }

// Close stops accepting records (later commits fail with Closed) and waits up to
// CloseTimeout until everything committed is acknowledged; what is still unacknowledged
// then is dropped (Close returns a Timeout saying how many, and later flushes return
// Closed at once).
func (p *Producer) Close() error { return p.closeC(CloseTimeout) }

// CloseTimeout is Close with another wait (negative: as long as it takes).
func (p *Producer) CloseTimeout(timeout time.Duration) error { return p.closeC(timeout) }
