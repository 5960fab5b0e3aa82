package modsynclog_test

import (
	"testing"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
)

// startWithProducer starts a server and connects a default Producer to it; the producer
// is closed (flushing) when the test ends, before the server stops.
func startWithProducer(t *testing.T) (*testserver.Server, *modsynclog.Producer) {
	t.Helper()
	srv := testserver.Start(t)
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return srv, p
}

// openReader opens a reader of the store at dir, closed when the test ends.
func openReader(t *testing.T, dir, date string, id uint64, follow bool) *modsynclog.Reader {
	t.Helper()
	r, err := modsynclog.OpenReader(dir, date, id, follow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
