package modsynclog

// The only file that talks to C. Every call into libmodsynclog goes through a small
// wrapper below that also copies msl_last_error() when the call failed: the message is
// thread-local in C, and a goroutine may run on another OS thread by its next cgo call.
//
// Linking: the directives below find the header and the library in this repository
// (../ffi-c/include, ../target/debug). Flags in CGO_CFLAGS / CGO_LDFLAGS come first on
// the command lines, so an installed library (pkg-config modsynclog) or a release build
// (-L.../target/release) takes precedence; paths that do not exist are ignored.

/*
#cgo CFLAGS: -I${SRCDIR}/../ffi-c/include
#cgo LDFLAGS: -L${SRCDIR}/../target/debug -Wl,-rpath,${SRCDIR}/../target/debug -lmodsynclog

#cgo noescape gomsl_commit
#cgo nocallback gomsl_commit
#cgo noescape gomsl_try_commit
#cgo nocallback gomsl_try_commit
#cgo noescape gomsl_producer_commit
#cgo nocallback gomsl_producer_commit
#cgo noescape gomsl_producer_try_commit
#cgo nocallback gomsl_producer_try_commit
#cgo noescape gomsl_reader_next_batch
#cgo nocallback gomsl_reader_next_batch
#cgo noescape gomsl_reader_next_columns
#cgo nocallback gomsl_reader_next_columns

#include <stdlib.h>
#include <string.h>
#include "modsynclog.h"

typedef struct {
	int32_t status;
	char *msg; // malloc'ed copy of msl_last_error() when status != MSL_OK; the caller frees it
} gomsl_result;

static gomsl_result gomsl_done(msl_status st) {
	gomsl_result r = { (int32_t)st, NULL };
	if (st != MSL_OK) {
		r.msg = strdup(msl_last_error());
	}
	return r;
}

// The global SDK.
static gomsl_result gomsl_init(const char *addr) { return gomsl_done(msl_init(addr)); }
static gomsl_result gomsl_commit(int16_t ty, const uint8_t *d, size_t n) { return gomsl_done(msl_commit(ty, d, n)); }
static gomsl_result gomsl_try_commit(int16_t ty, const uint8_t *d, size_t n) { return gomsl_done(msl_try_commit(ty, d, n)); }
static gomsl_result gomsl_flush(int64_t t) { return gomsl_done(msl_flush(t)); }
static gomsl_result gomsl_close(void) { return gomsl_done(msl_close()); }

// Starts a producer (out != NULL) or the global SDK (out == NULL) from every option: the
// config is built, used and freed in this one call.
static gomsl_result gomsl_start(const char *addr, const msl_producer_options *o, const char *ca, const char *cert,
		const char *key, const char *server_name, size_t queue_bytes, msl_producer **out) {
	msl_producer_config *c = NULL;
	msl_status st = msl_producer_config_new(&c);
	if (st != MSL_OK) {
		return gomsl_done(st);
	}
	st = msl_producer_config_set_options(c, o);
	if (st == MSL_OK && (ca || cert || key || server_name)) {
		st = msl_producer_config_set_tls(c, ca, cert, key, server_name);
	}
	if (st == MSL_OK && queue_bytes > 0) {
		st = msl_producer_config_set_queue_bytes(c, queue_bytes);
	}
	if (st == MSL_OK) {
		st = out ? msl_producer_new_with_config(addr, c, out) : msl_init_with_config(addr, c);
	}
	gomsl_result r = gomsl_done(st); // before the next msl_ call replaces the message
	msl_producer_config_free(c);
	return r;
}

// Producers.
static gomsl_result gomsl_producer_commit(const msl_producer *p, int16_t ty, const uint8_t *d, size_t n) {
	return gomsl_done(msl_producer_commit(p, ty, d, n));
}
static gomsl_result gomsl_producer_try_commit(const msl_producer *p, int16_t ty, const uint8_t *d, size_t n) {
	return gomsl_done(msl_producer_try_commit(p, ty, d, n));
}
static gomsl_result gomsl_producer_flush(const msl_producer *p, int64_t t) { return gomsl_done(msl_producer_flush(p, t)); }
static gomsl_result gomsl_producer_close(const msl_producer *p, int64_t t) { return gomsl_done(msl_producer_close(p, t)); }

// Readers. MSL_END is not an error: no message is copied for it.
static gomsl_result gomsl_reader_open(const char *dir, const char *date, uint64_t id, bool follow, msl_reader **out) {
	return gomsl_done(msl_reader_open(dir, date, id, follow, out));
}
static gomsl_result gomsl_reader_next_batch(const msl_reader *r, msl_record *out, size_t cap, size_t *n, int64_t t) {
	msl_status st = msl_reader_next_batch(r, out, cap, n, t);
	if (st == MSL_END) {
		gomsl_result end = { (int32_t)st, NULL };
		return end;
	}
	return gomsl_done(st);
}
static gomsl_result gomsl_reader_next_columns(const msl_reader *r, msl_columns *out, size_t records, size_t bytes, int64_t t) {
	msl_status st = msl_reader_next_columns(r, out, records, bytes, t);
	if (st == MSL_END) {
		gomsl_result end = { (int32_t)st, NULL };
		return end;
	}
	return gomsl_done(st);
}
*/
import "C"

import (
	"math"
	"runtime"
	"time"
	"unsafe"
)

// The C handles, for the other files of the package (which do not import "C").
type (
	cProducer = C.msl_producer
)

// statusEnd is MSL_END: a reader has no more records (or was stopped).
const statusEnd = C.int32_t(C.MSL_END)

// errorOf turns a failed result into an *Error and frees the copied message.
func errorOf(r C.gomsl_result) error {
	msg := ""
	if r.msg != nil {
		msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return &Error{kind: Kind(r.status), msg: msg}
}

// check is the error of a result (nil for MSL_OK).
func check(r C.gomsl_result) error {
	if r.status == 0 {
		return nil
	}
	return errorOf(r)
}

// bytesArg is data's first byte for C (NULL when empty). cgo lets C read a Go []byte for
// the duration of the call, and the commit wrappers are marked noescape: the payload is
// neither copied nor moved to the heap on the Go side (the library copies it once).
func bytesArg(data []byte) *C.uint8_t {
	if len(data) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(data)))
}

// millis converts a timeout for C: negative waits as long as it takes; a positive value
// below a millisecond rounds up, so it does not become "do not wait".
func millis(d time.Duration) C.int64_t {
	if d < 0 {
		return -1
	}
	return C.int64_t((d + time.Millisecond - 1) / time.Millisecond)
}

// uintMillis converts a duration option to the uint32 milliseconds of the C options.
func uintMillis(d time.Duration) C.uint32_t {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		ms = math.MaxUint32
	}
	return C.uint32_t(ms)
}

// cString is s for C, or NULL when empty; free it with freeString.
func cString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func freeString(s *C.char) {
	if s != nil {
		C.free(unsafe.Pointer(s))
	}
}

// versionC is msl_version().
func versionC() string { return C.GoString(C.msl_version()) }

// startC starts a producer (global == false) or the global SDK with opts.
func startC(addr string, opts *Options, global bool) (*C.msl_producer, error) {
	var o C.msl_producer_options
	C.msl_producer_options_default(&o)
	if err := opts.fill(&o); err != nil {
		return nil, err
	}
	cAddr := C.CString(addr)
	token := cString(opts.Token)
	ca, cert, key, name := cString(opts.TLSCAFile), cString(opts.TLSCertFile), cString(opts.TLSKeyFile), cString(opts.TLSServerName)
	o.token = token
	defer func() {
		for _, s := range []*C.char{cAddr, token, ca, cert, key, name} {
			freeString(s)
		}
	}()
	var p *C.msl_producer
	out := &p
	if global {
		out = nil
	}
	if err := check(C.gomsl_start(cAddr, &o, ca, cert, key, name, C.size_t(opts.QueueBytes), out)); err != nil {
		return nil, err
	}
	return p, nil
}

// fill copies the options that are set (non-zero) over the defaults in o.
func (opts *Options) fill(o *C.msl_producer_options) error {
	for _, v := range []struct {
		name string
		v    int
	}{
		{"BatchMaxRecords", opts.BatchMaxRecords},
		{"BatchMaxBytes", opts.BatchMaxBytes},
		{"QueueCapacity", opts.QueueCapacity},
		{"QueueBytes", opts.QueueBytes},
		{"MaxRecordLen", opts.MaxRecordLen},
	} {
		if v.v < 0 {
			return &Error{kind: InvalidArgument, msg: v.name + " must not be negative"}
		}
	}
	if opts.BatchMaxRecords > 0 {
		o.batch_max_records = C.size_t(opts.BatchMaxRecords)
	}
	if opts.BatchMaxBytes > 0 {
		o.batch_max_bytes = C.size_t(opts.BatchMaxBytes)
	}
	if opts.QueueCapacity > 0 {
		o.queue_capacity = C.size_t(opts.QueueCapacity)
	}
	if opts.MaxRecordLen > 0 {
		o.max_record_len = C.size_t(opts.MaxRecordLen)
	}
	switch {
	case opts.Linger > 0:
		o.linger_ms = uintMillis(opts.Linger)
	case opts.Linger < 0:
		o.linger_ms = 0
	}
	switch {
	case opts.EnqueueTimeout > 0:
		o.enqueue_timeout_ms = uintMillis(opts.EnqueueTimeout)
	case opts.EnqueueTimeout < 0:
		o.enqueue_timeout_ms = 0
	}
	o.legacy = C.bool(opts.Legacy)
	return nil
}

// Global SDK.

func initC(addr string) error {
	cAddr := C.CString(addr)
	defer C.free(unsafe.Pointer(cAddr))
	return check(C.gomsl_init(cAddr))
}

func commitC(typ int16, data []byte) error {
	r := C.gomsl_commit(C.int16_t(typ), bytesArg(data), C.size_t(len(data)))
	if r.status == 0 {
		return nil
	}
	return errorOf(r)
}

func tryCommitC(typ int16, data []byte) error {
	r := C.gomsl_try_commit(C.int16_t(typ), bytesArg(data), C.size_t(len(data)))
	if r.status == 0 {
		return nil
	}
	return errorOf(r)
}

func flushC(timeout time.Duration) error { return check(C.gomsl_flush(millis(timeout))) }

func closeC() error { return check(C.gomsl_close()) }

// Producer.

func (p *Producer) commitC(typ int16, data []byte) error {
	r := C.gomsl_producer_commit(p.ptr, C.int16_t(typ), bytesArg(data), C.size_t(len(data)))
	runtime.KeepAlive(p) // the cleanup that frees p.ptr must not run during the call
	if r.status == 0 {
		return nil
	}
	return errorOf(r)
}

func (p *Producer) tryCommitC(typ int16, data []byte) error {
	r := C.gomsl_producer_try_commit(p.ptr, C.int16_t(typ), bytesArg(data), C.size_t(len(data)))
	runtime.KeepAlive(p)
	if r.status == 0 {
		return nil
	}
	return errorOf(r)
}

func (p *Producer) flushC(timeout time.Duration) error {
	r := C.gomsl_producer_flush(p.ptr, millis(timeout))
	runtime.KeepAlive(p)
	return check(r)
}

func (p *Producer) closeC(timeout time.Duration) error {
	r := C.gomsl_producer_close(p.ptr, millis(timeout))
	runtime.KeepAlive(p)
	return check(r)
}

// freeProducerC frees a producer nothing refers to any more. msl_producer_free may wait
// up to 10 s to deliver what is still queued: it runs on its own goroutine, not on the
// runtime's cleanup goroutine.
func freeProducerC(ptr *C.msl_producer) {
	go C.msl_producer_free(ptr)
}

// Reader.

func openReaderC(dir, date string, id uint64, follow bool) (readerC, error) {
	cDir := C.CString(dir)
	defer C.free(unsafe.Pointer(cDir))
	cDate := cString(date)
	defer freeString(cDate)
	var r *C.msl_reader
	if err := check(C.gomsl_reader_open(cDir, cDate, C.uint64_t(id), C.bool(follow), &r)); err != nil {
		return readerC{}, err
	}
	batch := (*C.msl_record)(C.calloc(batchRecords, C.sizeof_msl_record))
	if batch == nil {
		C.msl_reader_free(r)
		return readerC{}, &Error{kind: IO, msg: "cannot allocate a reader's batch"}
	}
	return readerC{r, batch}, nil
}

// batchRecords is how many records a Reader takes from the library per call.
const batchRecords = 1024

// readerC is a Reader's C side: the library's reader and the array of batchRecords
// records it fills in. The array is C memory: cgo checks every Go array of pointers
// passed to C, element by element, on every call.
type readerC struct {
	ptr   *C.msl_reader
	batch *C.msl_record
}

func (h readerC) free() {
	C.msl_reader_free(h.ptr)
	C.free(unsafe.Pointer(h.batch))
}

// readerNextBatchC appends up to batchRecords records to recs: it waits up to timeout
// for the first one and takes the others only if already there; ok is false at the end
// (err nil) or on an error. The payloads are copied out of the library's borrowed
// buffers into one new buffer, each record's Data a slice of it with its capacity capped
// (an append to one never writes into the next). One cgo call per batch, not per record.
func readerNextBatchC(h readerC, timeout time.Duration, lastDate string, recs []Record) ([]Record, bool, error) {
	var n C.size_t
	res := C.gomsl_reader_next_batch(h.ptr, h.batch, batchRecords, &n, millis(timeout))
	switch {
	case res.status == statusEnd:
		return recs, false, nil
	case res.status != 0:
		return recs, false, errorOf(res)
	}
	out := unsafe.Slice(h.batch, int(n))
	total := 0
	for i := range out {
		total += int(out[i].len)
	}
	buf := make([]byte, total)
	at := 0
	for i := range out {
		o := &out[i]
		date := unsafe.Slice((*byte)(unsafe.Pointer(&o.date[0])), 10)
		if string(date) != lastDate { // no allocation while the day stays the same
			lastDate = string(date)
		}
		end := at + int(o.len)
		if o.len > 0 {
			copy(buf[at:end], unsafe.Slice((*byte)(unsafe.Pointer(o.data)), int(o.len)))
		}
		recs = append(recs, Record{Date: lastDate, ID: uint64(o.id), Time: int32(o.time), Type: int16(o._type), Data: buf[at:end:end]})
		at = end
	}
	return recs, true, nil
}

// readerNextColumnsC fills c with the next batch of one day as columns (see
// msl_reader_next_columns; 0 limits mean the library's defaults), copied into c's slices
// (appended from length 0: c's memory is reused when large enough, and allocated without
// zeroing otherwise). Four copies per batch, none per record. false at the end (err nil)
// or on an error.
func readerNextColumnsC(h readerC, c *Columns, maxRecords, maxBytes int, timeout time.Duration) (bool, error) {
	var out C.msl_columns
	res := C.gomsl_reader_next_columns(h.ptr, &out, C.size_t(maxRecords), C.size_t(maxBytes), millis(timeout))
	switch {
	case res.status == statusEnd:
		return false, nil
	case res.status != 0:
		return false, errorOf(res)
	}
	n := int(out.count)
	offsets := unsafe.Slice((*uint32)(unsafe.Pointer(out.offsets)), n+1)
	c.Date = C.GoStringN(&out.date[0], 10)
	c.FirstID = uint64(out.first_id)
	c.Times = append(c.Times[:0], unsafe.Slice((*int32)(unsafe.Pointer(out.times)), n)...)
	c.Types = append(c.Types[:0], unsafe.Slice((*int16)(unsafe.Pointer(out.types)), n)...)
	c.Offsets = append(c.Offsets[:0], offsets...)
	c.Data = append(c.Data[:0], unsafe.Slice((*byte)(unsafe.Pointer(out.data)), int(offsets[n]))...)
	return true, nil
}

func stopReaderC(h readerC) { C.msl_reader_stop(h.ptr) }
