package modsynclog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
)

// wantKind fails unless err is an *Error of kind k (checked three ways: errors.Is, the
// code, the kind) whose message is not empty.
func wantKind(t *testing.T, what string, err error, k modsynclog.Kind) *modsynclog.Error {
	t.Helper()
	var e *modsynclog.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %v (%T), want a *modsynclog.Error of kind %v", what, err, err, k)
	}
	if e.Kind() != k || e.Code() != int(k) || !errors.Is(err, sentinelOf(k)) {
		t.Fatalf("%s: %v (code %d), want kind %v (code %d)", what, err, e.Code(), k, int(k))
	}
	if e.Message() == "" || !strings.Contains(e.Error(), k.String()) {
		t.Fatalf("%s: %q lacks a message or the kind's name", what, e.Error())
	}
	return e
}

func sentinelOf(k modsynclog.Kind) error {
	for _, s := range allSentinels {
		if s.Kind() == k {
			return s
		}
	}
	panic(fmt.Sprintf("no sentinel for %v", k))
}

var allSentinels = []*modsynclog.Error{
	modsynclog.ErrInvalidArgument, modsynclog.ErrNotFound, modsynclog.ErrCorrupt, modsynclog.ErrIO,
	modsynclog.ErrTimeout, modsynclog.ErrClosed, modsynclog.ErrNotInitialized, modsynclog.ErrAlreadyInitialized,
	modsynclog.ErrTooLarge, modsynclog.ErrProtocol, modsynclog.ErrUnauthenticated, modsynclog.ErrUnavailable,
	modsynclog.ErrQueueFull, modsynclog.ErrConflict, modsynclog.ErrPermissionDenied, modsynclog.ErrNoSpace,
	modsynclog.ErrPanic,
}

func TestErrorCodesMatchTheHeader(t *testing.T) {
	// The numbers of modsynclog.h (MSL_*) and the core's names.
	want := map[modsynclog.Kind]struct {
		code int
		name string
	}{
		modsynclog.InvalidArgument: {1, "InvalidArgument"}, modsynclog.NotFound: {2, "NotFound"},
		modsynclog.Corrupt: {3, "Corrupt"}, modsynclog.IO: {4, "Io"}, modsynclog.Timeout: {5, "Timeout"},
		modsynclog.Closed: {6, "Closed"}, modsynclog.NotInitialized: {7, "NotInitialized"},
		modsynclog.AlreadyInitialized: {8, "AlreadyInitialized"}, modsynclog.TooLarge: {9, "TooLarge"},
		modsynclog.Protocol: {10, "Protocol"}, modsynclog.Unauthenticated: {11, "Unauthenticated"},
		modsynclog.Unavailable: {12, "Unavailable"}, modsynclog.QueueFull: {13, "QueueFull"},
		modsynclog.Conflict: {14, "Conflict"}, modsynclog.PermissionDenied: {15, "PermissionDenied"},
		modsynclog.NoSpace: {16, "NoSpace"}, modsynclog.Panic: {101, "Panic"},
	}
	if len(allSentinels) != len(want) {
		t.Fatalf("%d sentinels for %d kinds", len(allSentinels), len(want))
	}
	for k, w := range want {
		if int(k) != w.code || k.String() != w.name {
			t.Errorf("kind %v = %d, want %s = %d", k, int(k), w.name, w.code)
		}
		if s := sentinelOf(k).(*modsynclog.Error); s.Code() != w.code {
			t.Errorf("sentinel of %v has code %d", k, s.Code())
		}
	}
	// sentinels only match their own kind
	if errors.Is(modsynclog.ErrClosed, modsynclog.ErrTimeout) || !errors.Is(modsynclog.ErrClosed, modsynclog.ErrClosed) {
		t.Fatal("errors.Is between sentinels")
	}
	if modsynclog.Kind(42).String() != "Kind(42)" {
		t.Fatal(modsynclog.Kind(42).String())
	}
}

func TestWrongTokenIsUnauthenticatedAndFinal(t *testing.T) {
	srv := testserver.Start(t, "--token", "right")
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(1, []byte("refused")); err != nil {
		wantKind(t, "commit", err, modsynclog.Unauthenticated) // the refusal may come first
	}
	started := time.Now()
	wantKind(t, "flush", p.FlushTimeout(20*time.Second), modsynclog.Unauthenticated)
	if d := time.Since(started); d > 8*time.Second {
		t.Fatalf("the refusal took %v", d)
	}
	wantKind(t, "commit after the refusal", p.Commit(1, []byte("later")), modsynclog.Unauthenticated)
	wantKind(t, "try commit after the refusal", p.TryCommit(1, []byte("later")), modsynclog.Unauthenticated)
	wantKind(t, "close after the refusal", p.Close(), modsynclog.Unauthenticated)

	// the right token works on the same server
	q, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{Token: "right"})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Commit(1, []byte("authorized")); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, srv.Dir)
	if len(recs) != 1 || string(recs[0].Data) != "authorized" {
		t.Fatalf("stored %v, want only the authorized record", recs)
	}
}

func TestReadOnlyTokenIsPermissionDenied(t *testing.T) {
	srv := testserver.Start(t, "--ingest-token", "w", "--sync-token", "r")
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{Token: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(1, []byte("read scope only")); err != nil {
		wantKind(t, "commit", err, modsynclog.PermissionDenied)
	}
	e := wantKind(t, "flush", p.FlushTimeout(20*time.Second), modsynclog.PermissionDenied)
	if e.Code() != 15 {
		t.Fatalf("code %d, want 15 (MSL_PERMISSION_DENIED)", e.Code())
	}
}

func TestStoppedServerTimesOutThenDelivers(t *testing.T) {
	srv := testserver.Start(t)
	srv.Stop()
	// nothing listens on the port now: the producer retries in the background
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseTimeout(0)
	if err := p.Commit(1, []byte("waiting")); err != nil {
		t.Fatalf("commit only queues, even with no server: %v", err)
	}
	e := wantKind(t, "flush", p.FlushTimeout(300*time.Millisecond), modsynclog.Timeout)
	if !e.Timeout() {
		t.Fatal("Timeout() is false")
	}
	if !strings.Contains(e.Message(), "not acknowledged") {
		t.Fatalf("message %q does not say what is pending", e.Message())
	}
	// the server comes back: the queued record is delivered without a new commit
	srv.Restart(t)
	if err := p.FlushTimeout(30 * time.Second); err != nil {
		t.Fatalf("flush after the server came back: %v", err)
	}
	recs := readAll(t, srv.Dir)
	if len(recs) != 1 || string(recs[0].Data) != "waiting" {
		t.Fatalf("stored %+v, want the one queued record", recs)
	}
}

func TestLocalErrors(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)) // nothing listens
	p, err := modsynclog.NewProducer(addr, modsynclog.Options{MaxRecordLen: 10, QueueCapacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "a record over MaxRecordLen", p.Commit(1, make([]byte, 11)), modsynclog.TooLarge)
	for i := 0; i < 2; i++ {
		if err := p.TryCommit(1, []byte("fits")); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, "try commit into a full queue", p.TryCommit(1, []byte("full")), modsynclog.QueueFull)
	wantKind(t, "close with undeliverable records", p.CloseTimeout(100*time.Millisecond), modsynclog.Timeout)
	wantKind(t, "flush after close", p.FlushTimeout(10*time.Second), modsynclog.Closed)
	wantKind(t, "commit after close", p.Commit(1, nil), modsynclog.Closed)

	q, err := modsynclog.NewProducer(addr, modsynclog.Options{QueueCapacity: 1, EnqueueTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.CloseTimeout(0)
	if err := q.Commit(1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	wantKind(t, "commit into a full queue", q.Commit(1, []byte("two")), modsynclog.QueueFull)
	if d := time.Since(started); d < 40*time.Millisecond || d > 3*time.Second {
		t.Fatalf("commit waited %v, want about EnqueueTimeout (50 ms)", d)
	}

	_, err = modsynclog.NewProducer(addr, modsynclog.Options{BatchMaxRecords: -1})
	wantKind(t, "negative option", err, modsynclog.InvalidArgument)
	_, err = modsynclog.NewProducer(addr, modsynclog.Options{TLSCAFile: "/nonexistent/ca.pem"})
	wantKind(t, "TLS settings with a plaintext address", err, modsynclog.InvalidArgument)
	_, err = modsynclog.NewProducer("https://"+addr, modsynclog.Options{TLSCAFile: "/nonexistent/ca.pem"})
	wantKind(t, "missing CA file", err, modsynclog.NotFound)
	_, err = modsynclog.NewProducer(addr, modsynclog.Options{Token: "line\nbreak"})
	wantKind(t, "a token that cannot be a header", err, modsynclog.InvalidArgument)

	_, err = modsynclog.OpenReader(filepath.Join(t.TempDir(), "missing"), "", 0, false)
	wantKind(t, "reader of a missing folder", err, modsynclog.NotFound)
	_, err = modsynclog.OpenReader(t.TempDir(), "2026-13-45", 0, false)
	wantKind(t, "reader with a bad date", err, modsynclog.InvalidArgument)
}

func TestCorruptStoreIsReported(t *testing.T) {
	dir := t.TempDir()
	day := filepath.Join(dir, "20260101")
	if err := os.Mkdir(day, 0o755); err != nil {
		t.Fatal(err)
	}
	// one index entry pointing at a data file that holds garbage
	index := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	if err := os.WriteFile(filepath.Join(day, "index"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(day, "data000000"), []byte("not a record at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := modsynclog.OpenReader(dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Next()
	wantKind(t, "a record with a bad magic", err, modsynclog.Corrupt)
}
