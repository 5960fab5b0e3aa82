package modsynclog_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
)

type result struct {
	rec modsynclog.Record
	err error
}

// nextAsync runs r.Next on another goroutine.
func nextAsync(r *modsynclog.Reader) <-chan result {
	ch := make(chan result, 1)
	go func() {
		rec, err := r.Next()
		ch <- result{rec, err}
	}()
	return ch
}

func TestFollowWaitsForNewRecordsAndStopUnblocks(t *testing.T) {
	srv, p := startWithProducer(t)
	r := openReader(t, srv.Dir, "", 0, true)

	// Nothing stored yet: a bounded wait ends with a Timeout, the reader stays usable.
	if _, err := r.NextTimeout(100 * time.Millisecond); !errors.Is(err, modsynclog.ErrTimeout) {
		t.Fatalf("NextTimeout on an empty store: %v, want ErrTimeout", err)
	}

	for i, data := range []string{"first", "second"} {
		got := nextAsync(r)
		select {
		case res := <-got:
			t.Fatalf("Next returned before any commit: %+v, %v", res.rec, res.err)
		case <-time.After(200 * time.Millisecond): // it blocks, as it should
		}
		if err := p.Commit(9, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if err := p.FlushTimeout(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-got:
			if res.err != nil || string(res.rec.Data) != data || res.rec.Type != 9 || res.rec.ID != uint64(i) {
				t.Fatalf("followed record %d: %+v, %v", i, res.rec, res.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Next did not return record %d after it was acknowledged", i)
		}
	}

	// Stop from another goroutine unblocks a waiting Next with io.EOF...
	got := nextAsync(r)
	select {
	case res := <-got:
		t.Fatalf("Next returned with nothing new: %+v, %v", res.rec, res.err)
	case <-time.After(200 * time.Millisecond):
	}
	r.Stop()
	select {
	case res := <-got:
		if res.err != io.EOF {
			t.Fatalf("Next after Stop: %v, want io.EOF", res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not unblock Next")
	}
	// ...and every later Next, even with new records.
	if err := p.Commit(9, []byte("after stop")); err != nil {
		t.Fatal(err)
	}
	if err := p.FlushTimeout(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after Stop: %v, want io.EOF", err)
	}
}

func TestCloseUnblocksNextAndIsIdempotent(t *testing.T) {
	srv := testserver.Start(t)
	r, err := modsynclog.OpenReader(srv.Dir, "", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	got := nextAsync(r)
	select {
	case res := <-got:
		t.Fatalf("Next returned on an empty store: %+v, %v", res.rec, res.err)
	case <-time.After(100 * time.Millisecond):
	}
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case res := <-got:
		if res.err != io.EOF {
			t.Fatalf("Next during Close: %v, want io.EOF", res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Next")
	}
	<-closed
	r.Close()
	r.Stop()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after Close: %v, want io.EOF", err)
	}
}

// The reader takes records from the library in batches: each record's Data stays its
// own (an append does not write into the next record), the records come in order, and
// Stop ends the reader even with records still buffered.
func TestBatchedRecordsAreIndependentAndStopEndsBufferedReader(t *testing.T) {
	srv, p := startWithProducer(t)
	const n = 3000 // more than one batch
	for i := 0; i < n; i++ {
		if err := p.Commit(5, []byte{byte(i), byte(i >> 8), 'x'}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.FlushTimeout(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	r, err := modsynclog.OpenReader(srv.Dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	_ = append(first.Data, 'A', 'B', 'C')
	if string(second.Data) != string([]byte{1, 0, 'x'}) {
		t.Fatalf("appending to one record's Data changed the next one: %q", second.Data)
	}
	count := 2
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != uint64(count) || string(rec.Data) != string([]byte{byte(count), byte(count >> 8), 'x'}) {
			t.Fatalf("record %d: id %d data %q", count, rec.ID, rec.Data)
		}
		count++
	}
	if count != n {
		t.Fatalf("read %d records, want %d", count, n)
	}
	r.Close()

	// Stopped after one record of a full batch: every later Next is io.EOF.
	r2, err := modsynclog.OpenReader(srv.Dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Next(); err != nil {
		t.Fatal(err)
	}
	r2.Stop()
	if _, err := r2.Next(); err != io.EOF {
		t.Fatalf("Next after Stop: %v, want io.EOF", err)
	}
}
