// Package modsynclog is the Go SDK of modsynclog: it sends records to a modsynclog
// server and reads store folders, through libmodsynclog (the C ABI of the Rust core,
// ffi-c/include/modsynclog.h). It is a thin binding: type conversion and error mapping;
// batching, retries, delivery and the store format live in the library.
//
// The same concepts have the same names as in C, Python and Node:
//
//   - the global SDK: Init(addr) once per process, then Commit(typ, data), Flush, Close;
//   - a Producer with Options (token, batch size, linger, queue bounds, TLS, legacy);
//   - a Reader of a store folder from (date, id), optionally following new records;
//   - errors are *Error values whose Code() is the library's stable code (Kind).
//
// Commit only queues: a record is acknowledged later, in a batch, and a failure to
// deliver it is reported by a later Flush (or Close). Call Flush (or Close) before the
// process exits, or queued records are lost.
//
// The package modsynclog.dev/go/modsynclog_v1 has the API of the original
// github.com/loudbund/go-modsynclog SDK on top of this one.
package modsynclog
