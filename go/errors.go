package modsynclog

import "fmt"

// Kind is the stable code of an error: the core's ErrorKind number (MSL_* in
// modsynclog.h). Codes 1..16 never change meaning; new ones may be added after 16.
type Kind int

// The core's kinds are the constants of kinds_gen.go (generated from the core's list, with
// their names and Err* sentinels); Panic is the C library's own status (MSL_PANIC).
const Panic Kind = 101 // a bug caught inside the library

// String is the kind's name, the same in every language (Node's error.code, the Python
// exception class without "Error"): "QueueFull", "Io", ...
func (k Kind) String() string {
	if k == Panic {
		return "Panic"
	}
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

// ErrPanic matches errors of kind Panic (the sentinels of the core's kinds are in
// kinds_gen.go).
var ErrPanic = sentinel(Panic)
