// Producer: a Producer with explicit options, and what to do with each error kind.
//
// Commits N records (type 1201, JSON), then flushes with a timeout and reports what the
// server acknowledged. MODSYNCLOG_TOKEN (a bearer token) and MODSYNCLOG_CA (the CA file
// of an https:// server) are used when set. From go/:
//
//	go run ./examples/producer [ADDR [N]]      (default 127.0.0.1:1235 1000)
//
// ErrQueueFull (the queue stayed full for EnqueueTimeout): wait a little, retry.
// ErrNoSpace (the server's disk is full; the producer keeps its records): report, retry
// later. ErrUnauthenticated / ErrPermissionDenied: final, nothing can help; exit with
// status 3.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"modsynclog.dev/go"
)

func main() {
	addr, n := "127.0.0.1:1235", 1000
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}

	p, err := modsynclog.NewProducer(addr, modsynclog.Options{
		QueueBytes:     1 << 20,               // at most 1 MiB of payloads waiting to be sent
		Linger:         10 * time.Millisecond, // batch what comes within 10 ms
		EnqueueTimeout: 2 * time.Second,       // Commit waits this long for room, then ErrQueueFull
		Token:          os.Getenv("MODSYNCLOG_TOKEN"),
		TLSCAFile:      os.Getenv("MODSYNCLOG_CA"), // for https://
	})
	if err != nil {
		fail(err)
	}
	for i := 0; i < n; i++ {
		record := fmt.Appendf(nil, `{"lang":"go","i":%d}`, i)
		for {
			err := p.Commit(modsynclog.TypeJsonLog, record)
			if err == nil {
				break
			}
			switch {
			case errors.Is(err, modsynclog.ErrQueueFull):
				time.Sleep(100 * time.Millisecond)
			case errors.Is(err, modsynclog.ErrNoSpace):
				fmt.Fprintf(os.Stderr, "server disk full, retrying in 1 s: %v\n", err)
				time.Sleep(time.Second)
			default:
				fail(err)
			}
		}
	}

	// Wait up to 30 s for the acknowledgements; a full disk is retried until then.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := max(time.Until(deadline), 0)
		err := p.FlushTimeout(left)
		if err == nil {
			break
		}
		if !errors.Is(err, modsynclog.ErrNoSpace) || left == 0 {
			fail(err) // a Timeout says how many records are not acknowledged
		}
		fmt.Fprintln(os.Stderr, "server disk full, flushing again in 1 s")
		time.Sleep(time.Second)
	}
	if err := p.Close(); err != nil {
		fail(err)
	}
	fmt.Printf("committed %d records, acknowledged %d\n", n, n)
}

// fail reports an error; refused credentials exit with 3, anything else with 1.
func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	if errors.Is(err, modsynclog.ErrUnauthenticated) || errors.Is(err, modsynclog.ErrPermissionDenied) {
		os.Exit(3)
	}
	os.Exit(1)
}
