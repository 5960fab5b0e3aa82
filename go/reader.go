package modsynclog

import (
	"io"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Record is one log record as a Reader returns it.
type Record struct {
	Date string // the day, "YYYY-MM-DD"
	ID   uint64 // the record's number within its day, from 0
	Time int32  // Unix seconds, as stored (time.Unix(int64(r.Time), 0))
	Type int16  // the data type
	Data []byte // the payload: a copy the caller owns (it shares one allocation with the other records of its batch; appending to it copies)
}

// Reader walks the records of a store folder (a server's --data-dir, or a replica's) in
// order from (date, id). Without follow it ends (io.EOF) after the last record present;
// with follow it waits for new records and days until Stop or Close.
//
// Next is for one goroutine at a time; Stop and Close may be called from any goroutine,
// also while Next is blocked (Next then returns io.EOF).
type Reader struct {
	next    sync.Mutex   // one Next at a time; Close takes it before freeing
	state   sync.RWMutex // ptr: Stop reads it, Close clears it
	ptr     readerC      // zero once closed
	cleanup runtime.Cleanup
	date    string // the last record's date, reused to avoid an allocation per record

	// Records are taken from the library a batch at a time (one cgo call per batch):
	// Next hands out buffered[pos:] before it asks for more.
	buffered []Record
	pos      int
	stopped  atomic.Bool // Stop was called: what is buffered is not handed out
}

// OpenReader opens the store folder dir at record id of date ("YYYY-MM-DD", or the
// first day after it that exists; "" = the earliest day). NotFound when dir does not
// exist, InvalidArgument for a malformed date.
func OpenReader(dir, date string, id uint64, follow bool) (*Reader, error) {
	ptr, err := openReaderC(dir, date, id, follow)
	if err != nil {
		return nil, err
	}
	r := &Reader{ptr: ptr}
	r.cleanup = runtime.AddCleanup(r, readerC.free, ptr)
	return r, nil
}

// Next returns the next record, waiting as long as it takes when following. At the end
// (or once stopped or closed) it returns io.EOF.
func (r *Reader) Next() (Record, error) { return r.NextTimeout(-1) }

// NextTimeout is Next that, when following, gives up after timeout (whole milliseconds,
// rounded up; negative: no limit) with a Timeout error (errors.Is(err, ErrTimeout)); the
// reader stays usable.
func (r *Reader) NextTimeout(timeout time.Duration) (Record, error) {
	r.next.Lock()
	defer r.next.Unlock()
	if r.stopped.Load() {
		return Record{}, io.EOF
	}
	if r.pos < len(r.buffered) {
		rec := r.buffered[r.pos]
		r.buffered[r.pos] = Record{} // the caller owns it now
		r.pos++
		return rec, nil
	}
	r.state.RLock()
	ptr := r.ptr
	r.state.RUnlock()
	if ptr.ptr == nil {
		return Record{}, io.EOF
	}
	// Close frees ptr only while holding r.next, so it stays valid during the call.
	recs, ok, err := readerNextBatchC(ptr, timeout, r.date, r.buffered[:0])
	r.buffered, r.pos = recs, 0
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, io.EOF
	}
	r.date = r.buffered[len(r.buffered)-1].Date
	rec := r.buffered[0]
	r.buffered[0] = Record{}
	r.pos = 1
	return rec, nil
}

// All iterates over the records until the end (or Stop), then yields one last error if
// the reader failed: for rec, err := range r.All() { ... }.
func (r *Reader) All() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// Stop ends the reader: a Next blocked in another goroutine returns io.EOF, and so does
// every later one. Safe to call more than once, from any goroutine.
func (r *Reader) Stop() {
	r.stopped.Store(true)
	r.state.RLock()
	defer r.state.RUnlock()
	if r.ptr.ptr != nil {
		stopReaderC(r.ptr)
	}
}

// Close stops the reader, waits for a Next in progress to return, and frees the reader.
// Safe to call more than once, from any goroutine. It always returns nil.
func (r *Reader) Close() error {
	r.Stop()
	r.next.Lock()
	defer r.next.Unlock()
	r.state.Lock()
	ptr := r.ptr
	r.ptr = readerC{}
	r.state.Unlock()
	if ptr.ptr != nil {
		r.cleanup.Stop()
		ptr.free()
	}
	return nil
}
