// Follower: a reader that follows a store folder (a server's --data-dir, or a replica's)
// and prints each new record as it arrives: `date id type len payload`, the payload as
// text when it is printable ASCII, else `hex:...`. Records already there are skipped.
// Stops after N records, or on Ctrl-C (Stop makes a blocked Next return io.EOF).
//
//	go run ./examples/follower DATA_DIR [N]      (from go/)
package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"

	"modsynclog.dev/go"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: follower DATA_DIR [N]")
	}
	dir, limit := os.Args[1], -1
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			log.Fatal("N is a number")
		}
		limit = n
	}

	// Skip what is there: read to the end once, then follow from the record after the last.
	all, err := modsynclog.OpenReader(dir, "", 0, false)
	if err != nil {
		log.Fatal(err)
	}
	date, first := "", uint64(0)
	for rec, err := range all.All() {
		if err != nil {
			log.Fatal(err)
		}
		date, first = rec.Date, rec.ID+1
	}
	all.Close()
	r, err := modsynclog.OpenReader(dir, date, first, true)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); r.Stop() }() // Ctrl-C

	fmt.Fprintf(os.Stderr, "following %s\n", dir)
	count := 0
	for count != limit {
		rec, err := r.Next()
		if err == io.EOF { // stopped
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Date, rec.ID, rec.Type, len(rec.Data), payload(rec.Data))
		count++
	}
	fmt.Fprintf(os.Stderr, "stopped after %d records\n", count)
}

// payload is the data as text when it is printable ASCII, else "hex:...".
func payload(data []byte) string {
	for _, b := range data {
		if b < 0x20 || b > 0x7e {
			return "hex:" + hex.EncodeToString(data)
		}
	}
	return string(data)
}
