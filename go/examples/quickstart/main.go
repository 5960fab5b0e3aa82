// Quickstart: the global SDK. Connects to a server, commits a few records, waits until
// the server acknowledged them, and prints how many were committed.
//
//	go run ./examples/quickstart [ADDR]      (from go/; default 127.0.0.1:1235)
//
// The same example exists in Rust, C, Python and Node (see scripts/examples.sh).
package main

import (
	"fmt"
	"log"
	"os"
	"time"

	"modsynclog.dev/go"
)

const count = 3

func main() {
	addr := "127.0.0.1:1235"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if err := modsynclog.Init(addr); err != nil { // once per process; connects in the background
		log.Fatal(err)
	}
	for i := 0; i < count; i++ {
		if err := modsynclog.Commit(modsynclog.TypeAppLog, fmt.Appendf(nil, "hello from go %d", i)); err != nil { // only queues
			log.Fatal(err)
		}
	}
	if err := modsynclog.FlushTimeout(10 * time.Second); err != nil { // the server has them all now
		log.Fatal(err)
	}
	if err := modsynclog.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("committed %d records\n", count)
}
