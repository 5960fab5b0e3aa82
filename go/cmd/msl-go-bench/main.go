// Command msl-go-bench measures how many records per second the Go SDK gets
// acknowledged by a modsynclog server: N commits of SIZE-byte records from G goroutines,
// then Flush; the clock stops when the flush returns. It prints figures and asserts
// nothing. go/bench.sh builds it against the release library and runs it against a
// release server (--fsync never) on a temporary folder.
//
//	msl-go-bench -addr 127.0.0.1:1235 [-n 1000000] [-goroutines 1,8] [-runs 3] [-size 100]
//
// For scripts/bench-sdk.sh (issue 13): -result adds a line `RESULT commit <acked/s>`
// (the best run; used with -cases default -goroutines 1 -runs 1), and
//
//	msl-go-bench -scan DIR [-passes 3]
//
// reads the store folder DIR with a Reader (Next until io.EOF, opened inside the timing),
// summing the payload lengths, and prints `RESULT scan <records/s>` (the best pass); then
// the same with NextColumnsInto (default limits, one Columns reused, as the Rust and C
// benches reuse theirs), `RESULT scan-columns <records/s>`.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modsynclog.dev/go"
)

type target struct {
	commit func(int16, []byte) error
	flush  func() error
}

func main() {
	addr := flag.String("addr", "", "server address (host:port)")
	n := flag.Int("n", 1_000_000, "records per run")
	gs := flag.String("goroutines", "1,8", "comma-separated goroutine counts")
	runs := flag.Int("runs", 3, "runs of each case")
	size := flag.Int("size", 100, "payload bytes per record")
	cases := flag.String("cases", "producer,global", "cases: producer (queue holds N), default (default options), global (Init/Commit)")
	result := flag.Bool("result", false, "print `RESULT commit <best acknowledged/s>`")
	scan := flag.String("scan", "", "scan this store folder instead (prints `RESULT scan <best records/s>`)")
	passes := flag.Int("passes", 3, "passes of -scan")
	flag.Parse()
	if *scan != "" {
		scanDir(*scan, *passes)
		return
	}
	if *addr == "" || *size < 8 {
		flag.Usage()
		os.Exit(2)
	}
	var counts []int
	for _, s := range strings.Split(*gs, ",") {
		g, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || g < 1 {
			fail("bad -goroutines %q", *gs)
		}
		counts = append(counts, g)
	}
	fmt.Printf("libmodsynclog %s, %s %s/%s, GOMAXPROCS %d, %d-byte records, %d records per run\n",
		modsynclog.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), *size, *n)

	best := 0.0
	for _, c := range strings.Split(*cases, ",") {
		var t target
		var label string
		switch c {
		case "producer", "default":
			opts := modsynclog.Options{}
			label = "Producer, default options"
			if c == "producer" {
				opts.QueueCapacity = *n + 1
				label = "Producer, QueueCapacity = N"
			}
			p, err := modsynclog.NewProducer(*addr, opts)
			if err != nil {
				fail("producer: %v", err)
			}
			defer p.Close()
			t = target{p.Commit, p.Flush}
		case "global":
			if err := modsynclog.Init(*addr); err != nil {
				fail("init: %v", err)
			}
			label = "global SDK (Init/Commit)"
			t = target{modsynclog.Commit, modsynclog.Flush}
		default:
			fail("unknown case %q", c)
		}
		run(t, "warm-up", 20_000, 1, *size) // connect, start the stream
		for _, g := range counts {
			for r := 1; r <= *runs; r++ {
				best = max(best, run(t, fmt.Sprintf("%s, %d goroutine(s), run %d", label, g, r), *n, g, *size))
			}
		}
	}
	if err := modsynclog.Close(); err != nil && !strings.Contains(err.Error(), "NotInitialized") {
		fail("close: %v", err)
	}
	if *result {
		fmt.Printf("RESULT commit %.0f\n", best)
	}
}

// scanDir reads every record of dir, passes times, with Next and then with
// NextColumnsInto, and prints the best records/s of each.
func scanDir(dir string, passes int) {
	timePasses(dir, passes, "scan", "Reader", func(r *modsynclog.Reader) (n, bytes int, err error) {
		for {
			rec, err := r.Next()
			if err != nil {
				return n, bytes, err
			}
			n++
			bytes += len(rec.Data)
		}
	})
	timePasses(dir, passes, "scan-columns", "Reader columns", func(r *modsynclog.Reader) (n, bytes int, err error) {
		var c modsynclog.Columns
		for {
			if err := r.NextColumnsInto(&c, 0, 0, 0); err != nil {
				return n, bytes, err
			}
			n += c.Len()
			bytes += len(c.Data)
		}
	})
}

// timePasses times passes of scan over a reader of dir opened inside the timing (scan
// ends with io.EOF) and prints `RESULT what <best records/s>`.
func timePasses(dir string, passes int, what, label string, scan func(*modsynclog.Reader) (int, int, error)) {
	best := 0.0
	for pass := 1; pass <= passes; pass++ {
		start := time.Now()
		r, err := modsynclog.OpenReader(dir, "", 0, false)
		if err != nil {
			fail("open: %v", err)
		}
		n, bytes, err := scan(r)
		if err != io.EOF {
			fail("scan: %v", err)
		}
		secs := time.Since(start).Seconds()
		r.Close()
		fmt.Printf("Go %s scan, pass %d: %d records, %d B in %.3f s\n", label, pass, n, bytes, secs)
		best = max(best, float64(n)/secs)
	}
	fmt.Printf("RESULT %s %.0f\n", what, best)
}

// run commits n records from g goroutines, then flushes, prints the rates and returns
// the acknowledged records/s.
func run(t target, label string, n, g, size int) float64 {
	var wg sync.WaitGroup
	errs := make(chan error, g)
	start := time.Now()
	for w := 0; w < g; w++ {
		count := n / g
		if w < n%g {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := make([]byte, size)
			for i := range rec {
				rec[i] = 'x'
			}
			for i := 0; i < count; i++ {
				binary.BigEndian.PutUint64(rec, uint64(w)<<40|uint64(i))
				if err := t.commit(1101, rec); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	queued := time.Since(start)
	select {
	case err := <-errs:
		fail("%s: commit: %v", label, err)
	default:
	}
	if err := t.flush(); err != nil {
		fail("%s: flush: %v", label, err)
	}
	acked := time.Since(start)
	fmt.Printf("%-52s queued %10.0f/s (%4.0f ns/commit)  acknowledged %10.0f records/s (%.3f s)\n",
		label, float64(n)/queued.Seconds(), float64(queued.Nanoseconds())/float64(n),
		float64(n)/acked.Seconds(), acked.Seconds())
	return float64(n) / acked.Seconds()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "msl-go-bench: "+format+"\n", args...)
	os.Exit(1)
}
