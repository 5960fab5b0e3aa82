package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A small run of both phases against the server binary of interop/run.sh, so that the
// benchmark keeps working (its own checks: replies, store growth, byte-identical copy).
func TestOrigbenchSmoke(t *testing.T) {
	bin := os.Getenv("MSL_SERVER_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../../../../target/debug/modsynclog-server")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no server binary: %v", err)
	}
	defer cleanup()
	cfg := config{
		serverBin: bin, serverArgs: []string{"--fsync", "never"},
		n: 300, callers: []int{1, 8}, method: "mix", seed: 1,
		catchupN: 3000, date: time.Now().AddDate(0, 0, -1).Format("2006-01-02"),
		reconn: time.Second, timeout: time.Minute, workDir: t.TempDir(),
	}
	if err := runIngest(cfg); err != nil {
		t.Errorf("ingest: %v", err)
	}
	if err := runCatchup(cfg); err != nil {
		t.Errorf("catch-up: %v", err)
	}
}
