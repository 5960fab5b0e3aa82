package modsynclog_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
)

// payload i: distinct, of varied length (0..299 bytes), with every byte value.
func payload(i int) []byte {
	n := (i * 37) % 300
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i + j*7)
	}
	if n >= 8 {
		copy(b, fmt.Sprintf("%08d", i))
	}
	return b
}

type sent struct {
	typ  int16
	data []byte
}

// readAll reads every record of dir (no follow) and checks the reader's own invariants:
// ids dense from 0 within a day.
func readAll(t *testing.T, dir string) []modsynclog.Record {
	t.Helper()
	r, err := modsynclog.OpenReader(dir, "", 0, false)
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	defer r.Close()
	var recs []modsynclog.Record
	for rec, err := range r.All() {
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// checkStored asserts the store holds exactly want, in order, from id 0 of today (UTC),
// stamped between start and now.
func checkStored(t *testing.T, dir string, want []sent, start time.Time) {
	t.Helper()
	got := readAll(t, dir)
	if len(got) != len(want) {
		t.Fatalf("stored %d records, want %d", len(got), len(want))
	}
	today := time.Now().UTC().Format("2006-01-02")
	for i, r := range got {
		if r.Type != want[i].typ || !bytes.Equal(r.Data, want[i].data) {
			t.Fatalf("record %d: type %d data %q, want type %d data %q", i, r.Type, r.Data, want[i].typ, want[i].data)
		}
		if r.ID != uint64(i) || r.Date != today {
			t.Fatalf("record %d: at %s #%d, want %s #%d", i, r.Date, r.ID, today, i)
		}
		if ts := int64(r.Time); ts < start.Unix()-1 || ts > time.Now().Unix()+1 {
			t.Fatalf("record %d: time %d outside the test's run", i, ts)
		}
	}
}

func TestProducerRoundTrip(t *testing.T) {
	srv := testserver.Start(t)
	start := time.Now()
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{BatchMaxRecords: 64, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	var want []sent
	buf := make([]byte, 0, 300)
	for i := 0; i < n; i++ {
		// the same buffer each time: Commit must copy the payload
		buf = append(buf[:0], payload(i)...)
		typ := int16(i%7 - 3)
		if err := p.Commit(typ, buf); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		want = append(want, sent{typ, payload(i)})
	}
	if err := p.TryCommit(modsynclog.TypeJsonLog, []byte(`{"last":true}`)); err != nil {
		t.Fatalf("try commit: %v", err)
	}
	want = append(want, sent{modsynclog.TypeJsonLog, []byte(`{"last":true}`)})
	if err := p.FlushTimeout(30 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkStored(t, srv.Dir, want, start)
}

func TestProducerConcurrentCommits(t *testing.T) {
	srv, p := startWithProducer(t)
	const goroutines, each = 8, 1000
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			for i := 0; i < each; i++ {
				if err := p.Commit(int16(g), []byte(fmt.Sprintf("g%d-%06d", g, i))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < goroutines; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	// every record once, and each goroutine's records in its commit order
	next := make([]int, goroutines)
	recs := readAll(t, srv.Dir)
	if len(recs) != goroutines*each {
		t.Fatalf("stored %d records, want %d", len(recs), goroutines*each)
	}
	for _, r := range recs {
		g := int(r.Type)
		if want := fmt.Sprintf("g%d-%06d", g, next[g]); string(r.Data) != want {
			t.Fatalf("record #%d: %q, want %q", r.ID, r.Data, want)
		}
		next[g]++
	}
}

func TestCommitCopiesWithoutGoAllocations(t *testing.T) {
	// No server: commits only queue. The payload goes to C as pointer + length.
	p, err := modsynclog.NewProducer(fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)), modsynclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseTimeout(0)
	allocs := testing.AllocsPerRun(1000, func() {
		// a buffer on the stack stays there: cgo reads it in place (noescape)
		var rec [100]byte
		rec[0] = 'x'
		if err := p.Commit(1, rec[:]); err != nil {
			t.Fatal(err)
		}
		if err := p.TryCommit(1, rec[:]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Commit allocates %v times per call in Go, want 0", allocs)
	}
}

// The global SDK is once per process (and Close is final): its test runs in a child
// process, this test binary started again with MSL_GO_GLOBAL_ADDR set.
func TestGlobalSDK(t *testing.T) {
	if os.Getenv("MSL_GO_GLOBAL_ADDR") != "" {
		t.Skip("in the child")
	}
	srv := testserver.Start(t)
	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalSDKChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "MSL_GO_GLOBAL_ADDR="+srv.Addr)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGlobalSDKChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var want []sent
	for i := 0; i < globalN; i++ {
		want = append(want, sent{modsynclog.TypeAppLog, payload(i)})
	}
	want = append(want, sent{2, []byte("try")})
	checkStored(t, srv.Dir, want, start)
}

const globalN = 3000

func TestGlobalSDKChild(t *testing.T) {
	addr := os.Getenv("MSL_GO_GLOBAL_ADDR")
	if addr == "" {
		t.Skip("run by TestGlobalSDK in a child process")
	}
	expect := func(what string, err error, kind modsynclog.Kind) {
		t.Helper()
		var e *modsynclog.Error
		if !errors.As(err, &e) || e.Kind() != kind || e.Code() != int(kind) {
			t.Fatalf("%s: %v, want a %v error", what, err, kind)
		}
	}
	expect("commit before init", modsynclog.Commit(1, []byte("early")), modsynclog.NotInitialized)
	expect("flush before init", modsynclog.Flush(), modsynclog.NotInitialized)
	if err := modsynclog.Init(addr); err != nil {
		t.Fatal(err)
	}
	if err := modsynclog.Init(addr); err != nil {
		t.Fatalf("init again with the same address: %v", err)
	}
	expect("init with another address", modsynclog.Init("127.0.0.1:1"), modsynclog.AlreadyInitialized)
	expect("init with options and another address",
		modsynclog.InitWithOptions("127.0.0.1:1", modsynclog.Options{Token: "x"}), modsynclog.AlreadyInitialized)
	for i := 0; i < globalN; i++ {
		if err := modsynclog.Commit(modsynclog.TypeAppLog, payload(i)); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := modsynclog.TryCommit(2, []byte("try")); err != nil {
		t.Fatal(err)
	}
	if err := modsynclog.FlushTimeout(30 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := modsynclog.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	expect("commit after close", modsynclog.Commit(1, []byte("late")), modsynclog.Closed)
	if !errors.Is(modsynclog.TryCommit(1, []byte("late")), modsynclog.ErrClosed) {
		t.Fatal("try commit after close: want ErrClosed")
	}
}

func TestGlobalSDKWithOptionsChild(t *testing.T) {
	// InitWithOptions in a fresh process: the options reach the global producer.
	addr := os.Getenv("MSL_GO_GLOBAL_TOKEN_ADDR")
	if addr == "" {
		t.Skip("run by TestGlobalSDKWithOptions in a child process")
	}
	if err := modsynclog.InitWithOptions(addr, modsynclog.Options{Token: "right", MaxRecordLen: 16, Linger: -1}); err != nil {
		t.Fatal(err)
	}
	if err := modsynclog.Commit(1, make([]byte, 17)); !errors.Is(err, modsynclog.ErrTooLarge) {
		t.Fatalf("commit over MaxRecordLen: %v, want TooLarge", err)
	}
	if err := modsynclog.Commit(1, []byte("with the token")); err != nil {
		t.Fatal(err)
	}
	if err := modsynclog.FlushTimeout(20 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func TestGlobalSDKWithOptions(t *testing.T) {
	if os.Getenv("MSL_GO_GLOBAL_TOKEN_ADDR") != "" {
		t.Skip("in the child")
	}
	srv := testserver.Start(t, "--token", "right")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalSDKWithOptionsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "MSL_GO_GLOBAL_TOKEN_ADDR="+srv.Addr)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGlobalSDKWithOptionsChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if recs := readAll(t, srv.Dir); len(recs) != 1 || string(recs[0].Data) != "with the token" {
		t.Fatalf("stored %+v, want the one record", recs)
	}
}

func TestReaderFromDateAndID(t *testing.T) {
	srv := testserver.Start(t)
	p, err := modsynclog.NewProducer(srv.Addr, modsynclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := p.Commit(1, payload(i+100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format("2006-01-02")
	r, err := modsynclog.OpenReader(srv.Dir, today, 7, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 7; i < 10; i++ {
		rec, err := r.Next()
		if err != nil || rec.ID != uint64(i) || !bytes.Equal(rec.Data, payload(i+100)) {
			t.Fatalf("record %d: %+v, %v", i, rec, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
	// a day after the last one: nothing
	r2, err := modsynclog.OpenReader(srv.Dir, "2999-01-01", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Next(); err != io.EOF {
		t.Fatalf("from a later day: %v, want io.EOF", err)
	}
}

func TestVersion(t *testing.T) {
	if v := modsynclog.Version(); v == "" || strings.Count(v, ".") < 2 {
		t.Fatalf("Version() = %q", v)
	}
}
