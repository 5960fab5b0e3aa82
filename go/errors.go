package modsynclog

import "fmt"

// Kind is the stable code of an error: the core's ErrorKind number (MSL_* in
// modsynclog.h). Codes 1..16 never change meaning; new ones may be added after 16.
type Kind int

// Every error kind, with the numbers of modsynclog.h.
const (
	InvalidArgument    Kind = 1   // a value that cannot be accepted (bad date, bad option)
	NotFound           Kind = 2   // a day, folder or file that does not exist
	Corrupt            Kind = 3   // files or bytes that do not follow the format
	IO                 Kind = 4   // the operating system failed an I/O call
	Timeout            Kind = 5   // a wait ran out of time (flush, or a reader's NextTimeout)
	Closed             Kind = 6   // the producer (or the global SDK) was closed
	NotInitialized     Kind = 7   // the global SDK was used before Init
	AlreadyInitialized Kind = 8   // Init again with another address
	TooLarge           Kind = 9   // a record over MaxRecordLen (or a server limit)
	Protocol           Kind = 10  // the peer broke the protocol
	Unauthenticated    Kind = 11  // the server refused the credentials: final for a producer
	Unavailable        Kind = 12  // the server cannot be reached or refused for now
	QueueFull          Kind = 13  // the queue stayed full past EnqueueTimeout (TryCommit: at once)
	Conflict           Kind = 14  // the request conflicts with the current state
	PermissionDenied   Kind = 15  // valid credentials without this right: final for a producer
	NoSpace            Kind = 16  // the server's disk is full: not final, records kept and retried
	Panic              Kind = 101 // a bug caught inside the library
)

var kindNames = map[Kind]string{
	InvalidArgument:    "InvalidArgument",
	NotFound:           "NotFound",
	Corrupt:            "Corrupt",
	IO:                 "Io",
	Timeout:            "Timeout",
	Closed:             "Closed",
	NotInitialized:     "NotInitialized",
	AlreadyInitialized: "AlreadyInitialized",
	TooLarge:           "TooLarge",
	Protocol:           "Protocol",
	Unauthenticated:    "Unauthenticated",
	Unavailable:        "Unavailable",
	QueueFull:          "QueueFull",
	Conflict:           "Conflict",
	PermissionDenied:   "PermissionDenied",
	NoSpace:            "NoSpace",
	Panic:              "Panic",
}

// String is the kind's name, the same in every language (Node's error.code, the Python
// exception class without "Error"): "QueueFull", "Io", ...
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is every error of this package. Compare with errors.Is against the Err* values
// (errors.Is(err, modsynclog.ErrQueueFull)), or look at Code() / Kind() after errors.As.
type Error struct {
	kind Kind
	msg  string
}

// Error is "modsynclog: <Kind>: <message from the library>".
func (e *Error) Error() string {
	if e.msg == "" {
		return "modsynclog: " + e.kind.String()
	}
	return "modsynclog: " + e.kind.String() + ": " + e.msg
}

// Code is the stable number of the error's kind (MSL_* in modsynclog.h).
func (e *Error) Code() int { return int(e.kind) }

// Kind is the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// Message is the library's message alone (what msl_last_error() said).
func (e *Error) Message() string { return e.msg }

// Timeout reports whether the error is a Timeout (like net.Error).
func (e *Error) Timeout() bool { return e.kind == Timeout }

// Is makes errors.Is(err, ErrX) true for every error of kind X: two *Error values match
// when their kinds do.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.kind == e.kind
}

func sentinel(k Kind) *Error { return &Error{kind: k} }

// One value per kind, for errors.Is.
var (
	ErrInvalidArgument    = sentinel(InvalidArgument)
	ErrNotFound           = sentinel(NotFound)
	ErrCorrupt            = sentinel(Corrupt)
	ErrIO                 = sentinel(IO)
	ErrTimeout            = sentinel(Timeout)
	ErrClosed             = sentinel(Closed)
	ErrNotInitialized     = sentinel(NotInitialized)
	ErrAlreadyInitialized = sentinel(AlreadyInitialized)
	ErrTooLarge           = sentinel(TooLarge)
	ErrProtocol           = sentinel(Protocol)
	ErrUnauthenticated    = sentinel(Unauthenticated)
	ErrUnavailable        = sentinel(Unavailable)
	ErrQueueFull          = sentinel(QueueFull)
	ErrConflict           = sentinel(Conflict)
	ErrPermissionDenied   = sentinel(PermissionDenied)
	ErrNoSpace            = sentinel(NoSpace)
	ErrPanic              = sentinel(Panic)
)
