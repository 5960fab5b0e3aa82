// Command msl-full-disk is the Go SDK's part of scripts/full-disk.sh: it commits records
// to a server whose disk fills up and checks what the SDK reports.
//
//	msl-full-disk ADDR TAG DIR PAD BATCH FLUSH_EVERY
//
// Same steps and output as scripts/full-disk/writer.c: the global SDK with
// BatchMaxRecords = BATCH; once DIR/start exists, records of type 15, "TAG:<i>:" then PAD
// bytes 'g', flushed every FLUSH_EVERY, until Commit or FlushTimeout returns ErrNoSpace
// (at once, not after the flush's 60 s timeout); then, once DIR/freed exists, flush until
// the kept records are delivered, 200 more records, flush. The last line is
// `RESULT tag=... total=N`.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modsynclog.dev/go"
)

const (
	typ  = 15
	more = 200
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: msl-full-disk ADDR TAG DIR PAD BATCH FLUSH_EVERY")
		os.Exit(2)
	}
	addr, tag, signals := os.Args[1], os.Args[2], os.Args[3]
	var nums [3]int
	for k, a := range os.Args[4:] {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PAD, BATCH and FLUSH_EVERY are numbers:", err)
			os.Exit(2)
		}
		nums[k] = n
	}
	pad, batch, flushEvery := nums[0], nums[1], nums[2]
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL %s: %s\n", tag, fmt.Sprintf(format, args...))
		os.Exit(1)
	}
	record := func(i int) []byte {
		return append([]byte(fmt.Sprintf("%s:%d:", tag, i)), bytes.Repeat([]byte{'g'}, pad)...)
	}

	waitFor := func(name string) {
		path := filepath.Join(signals, name)
		deadline := time.Now().Add(180 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil {
				return
			}
			if time.Now().After(deadline) {
				fail("%s never appeared", path)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if err := modsynclog.InitWithOptions(addr, modsynclog.Options{BatchMaxRecords: batch}); err != nil {
		fail("InitWithOptions: %v", err)
	}
	fmt.Printf("%s: ready\n", tag)
	waitFor("start")
	i, acked := 0, 0
	var took time.Duration
	source := ""
	var noSpace error
	for source == "" {
		if i > 1_000_000 {
			fail("1,000,000 records acknowledged and the disk never filled")
		}
		if err := modsynclog.Commit(typ, record(i)); err != nil {
			if !errors.Is(err, modsynclog.ErrNoSpace) {
				fail("Commit: %v", err)
			}
			source, noSpace = "Commit", err
			break
		}
		i++
		if i%flushEvery == 0 {
			t := time.Now()
			err := modsynclog.FlushTimeout(60 * time.Second)
			took = time.Since(t)
			switch {
			case err == nil:
				acked = i
			case errors.Is(err, modsynclog.ErrNoSpace):
				source, noSpace = "FlushTimeout", err
			default:
				fail("FlushTimeout: %v", err)
			}
		}
	}
	var e *modsynclog.Error
	if !errors.As(noSpace, &e) || e.Code() != 16 || e.Kind().String() != "NoSpace" {
		fail("not a NoSpace *modsynclog.Error: %#v", noSpace)
	}
	committed := i
	fmt.Printf("%s: ErrNoSpace from %s after %.3f s: %d records acknowledged before the error, %d committed\n",
		tag, source, took.Seconds(), acked, committed)
	fmt.Printf("%s: message: %v\n", tag, noSpace)
	if took > 5*time.Second {
		fail("the full disk was reported after %v, not at once", took)
	}

	waitFor("freed")
	t := time.Now()
	for {
		err := modsynclog.FlushTimeout(60 * time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, modsynclog.ErrNoSpace) {
			fail("FlushTimeout after freeing space: %v", err)
		}
		if time.Since(t) > 60*time.Second {
			fail("still NoSpace 60 s after space was freed")
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Printf("%s: delivered the %d records kept since the disk filled, %.1f s after space was freed\n",
		tag, committed-acked, time.Since(t).Seconds())
	for end := i + more; i < end; i++ {
		if err := modsynclog.Commit(typ, record(i)); err != nil {
			fail("Commit after freeing space: %v", err)
		}
	}
	if err := modsynclog.FlushTimeout(60 * time.Second); err != nil {
		fail("the last FlushTimeout: %v", err)
	}
	if err := modsynclog.Close(); err != nil {
		fail("Close: %v", err)
	}
	fmt.Printf("RESULT tag=%s acked_at_error=%d committed_at_error=%d error_from=%s total=%d\n",
		tag, acked, committed, source, i)
}
