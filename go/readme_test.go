package modsynclog_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"modsynclog.dev/go/internal/testserver"
)

// The README's quickstart is a program: build it as written and run it against a real
// server.
func TestReadmeQuickstartRuns(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- quickstart:begin[^\n]*\n```go\n(.*?)```\n<!-- quickstart:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no go code block between the quickstart markers")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	build := exec.Command("go", "build", "-o", bin, src) // in this module: resolves modsynclog.dev/go
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the quickstart: %v\n%s", err, out)
	}

	srv := testserver.Start(t)
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "MODSYNCLOG_ADDR="+srv.Addr, "MODSYNCLOG_DATA_DIR="+srv.Dir)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	today := time.Now().UTC().Format("2006-01-02")
	want := []string{today + " 0 1101 hello", today + " 1 1001 row 0", today + " 2 1001 row 1", today + " 3 1001 row 2"}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("quickstart printed %q, want %q", got, want)
	}
}
