// Command msl-go-bench measures how many records per second the Go SDK gets
// acknowledged by a modsynclog server: N commits of SIZE-byte records from G goroutines,
// then Flush; the clock stops when the flush returns. It prints figures and asserts
// nothing. go/bench.sh builds it against the release library and runs it against a
// release server (--fsync never) on a temporary folder.
//
//	msl-go-bench -addr 127.0.0.1:1235 [-n 1000000] [-goroutines 1,8] [-runs 3] [-size 100]
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
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
	flag.Parse()
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
				run(t, fmt.Sprintf("%s, %d goroutine(s), run %d", label, g, r), *n, g, *size)
			}
		}
	}
	if err := modsynclog.Close(); err != nil && !strings.Contains(err.Error(), "NotInitialized") {
		fail("close: %v", err)
	}
}

// run commits n records from g goroutines, then flushes, and prints the rates.
func run(t target, label string, n, g, size int) {
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
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "msl-go-bench: "+format+"\n", args...)
	os.Exit(1)
}
