package modsynclog_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"modsynclog.dev/go"
)

// NextColumns gives the records Next gives, in batches of one day within the limits, and
// mixing the two on one reader neither skips nor repeats a record.
func TestNextColumnsEqualsNextAndMixes(t *testing.T) {
	srv, p := startWithProducer(t)
	const n = 5000
	for i := 0; i < n; i++ {
		if err := p.Commit(int16(i%7), bytes.Repeat([]byte{byte(i)}, i%50)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.FlushTimeout(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	var want []modsynclog.Record
	r, err := modsynclog.OpenReader(srv.Dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rec)
	}
	r.Close()
	if len(want) != n {
		t.Fatalf("Next read %d records, want %d", len(want), n)
	}

	// Columns alone, 300 records or 4 KiB a batch, into one reused Columns.
	r, err = modsynclog.OpenReader(srv.Dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []modsynclog.Record
	var c modsynclog.Columns
	batches := 0
	for {
		err := r.NextColumnsInto(&c, 300, 4096, 0)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		batches++
		if c.Len() < 1 || c.Len() > 300 || len(c.Types) != c.Len() || len(c.Offsets) != c.Len()+1 ||
			c.Offsets[0] != 0 || int(c.Offsets[c.Len()]) != len(c.Data) || int(c.Offsets[c.Len()-1]) >= 4096 {
			t.Fatalf("batch %d out of shape: %d records, %d offsets, %d bytes", batches, c.Len(), len(c.Offsets), len(c.Data))
		}
		for i := 0; i < c.Len(); i++ {
			rec := c.Record(i)
			rec.Data = bytes.Clone(rec.Data) // the next batch overwrites c's memory
			got = append(got, rec)
		}
	}
	if c.Len() != 0 || len(c.Offsets) != 0 || len(c.Data) != 0 || c.Date != "" {
		t.Fatalf("after io.EOF the Columns is not empty: %d records, date %q", c.Len(), c.Date)
	}
	compareRecords(t, got, want)
	if batches < n/300 {
		t.Fatalf("%d batches for %d records of at most 300", batches, n)
	}

	// Mixed: Next buffers a library batch; NextColumns hands out its rest first.
	m, err := modsynclog.OpenReader(srv.Dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got = got[:0]
	for i := 0; ; i++ {
		if i%3 == 0 {
			rec, err := m.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec)
			continue
		}
		c, err := m.NextColumns(500, 0, 0)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < c.Len(); j++ {
			got = append(got, c.Record(j))
		}
	}
	compareRecords(t, got, want)
}

func compareRecords(t *testing.T, got, want []modsynclog.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Date != w.Date || g.ID != w.ID || g.Time != w.Time || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

// A follower's NextColumns times out with ErrTimeout, then returns what is committed.
func TestNextColumnsFollows(t *testing.T) {
	srv, p := startWithProducer(t)
	r := openReader(t, srv.Dir, "", 0, true)
	if _, err := r.NextColumns(0, 0, 50*time.Millisecond); !errors.Is(err, modsynclog.ErrTimeout) {
		t.Fatalf("NextColumns on an empty store: %v, want ErrTimeout", err)
	}
	for _, s := range []string{"a", "bb", "ccc"} {
		if err := p.Commit(3, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.FlushTimeout(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	var data []string
	for len(data) < 3 {
		c, err := r.NextColumns(0, 0, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.Len(); i++ {
			data = append(data, string(c.Record(i).Data))
		}
	}
	if len(data) != 3 || data[0] != "a" || data[1] != "bb" || data[2] != "ccc" {
		t.Fatalf("followed %q", data)
	}
	r.Stop()
	if _, err := r.NextColumns(0, 0, -1); err != io.EOF {
		t.Fatalf("NextColumns after Stop: %v, want io.EOF", err)
	}
}
