// Package testserver starts a real modsynclog-server for tests: 127.0.0.1 on a free
// port, its own temporary data folder, stopped by t.Cleanup.
//
// The binary is $MODSYNCLOG_SERVER_BIN, else target/debug/modsynclog-server of this
// repository; certificates come from modsynclog-testcerts next to it.
package testserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one running server process.
type Server struct {
	Addr string // "127.0.0.1:PORT"
	Port int
	Dir  string // the store folder (--data-dir)
	log  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit status, once done is closed
}

// repoRoot is the repository holding this file (go/internal/testserver/..../..).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Bin is the path of a binary of the Rust build: $env, else target/debug/name.
func Bin(t testing.TB, env, name string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join(repoRoot(), "target", "debug", name)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (cargo build -p modsynclog-server, or set %s): %v", p, env, err)
	}
	return p
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// childEnv is the environment without MODSYNCLOG_* variables, so that the caller's
// settings (tokens, addresses...) cannot change the server.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MODSYNCLOG_") {
			env = append(env, kv)
		}
	}
	return env
}

// Start runs a server with --fsync never --utc and extra flags, and returns once it
// accepts connections. It is stopped at the end of the test (and its log printed when
// the test failed).
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Bin(t, "MODSYNCLOG_SERVER_BIN", "modsynclog-server")
	tmp := t.TempDir()
	s := &Server{Dir: filepath.Join(tmp, "data"), log: filepath.Join(tmp, "server.log")}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.Port = FreePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
	s.args = append([]string{bin, "--data-dir", s.Dir, "--grpc-addr", s.Addr, "--sync-addr", "off", "--fsync", "never", "--utc"}, extra...)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server log (%s):\n%s", s.Addr, s.Log())
		}
	})
	s.run(t, logFile)
	return s
}

// Restart starts the (stopped) server again: same address, folder and flags.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	logFile, err := os.OpenFile(s.log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.run(t, logFile)
}

func (s *Server) run(t testing.TB, logFile *os.File) {
	t.Helper()
	s.done = make(chan struct{})
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Env = childEnv()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.args[0], err)
	}
	done := s.done
	go func() { s.err = s.cmd.Wait(); close(done) }()
	s.waitReady(t, 20*time.Second)
}

// waitReady dials until the server accepts a connection (or exited, or timeout).
func (s *Server) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("server exited (%v): %s", s.err, s.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not listen on %s within %v: %s", s.Addr, timeout, s.Log())
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it. Idempotent.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return // never started
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Log is the tail of the server's output.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Certs writes a fresh test CA and certificates with modsynclog-testcerts into a
// temporary folder and returns it: ca.pem, server.pem/server.key (localhost,
// 127.0.0.1), client.pem/client.key, other-ca.pem.
func Certs(t testing.TB) string {
	t.Helper()
	bin := Bin(t, "MODSYNCLOG_TESTCERTS_BIN", "modsynclog-testcerts")
	dir := t.TempDir()
	out, err := exec.Command(bin, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", bin, err, out)
	}
	for _, f := range []string{"ca.pem", "server.pem", "server.key", "client.pem", "client.key", "other-ca.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("testcerts did not write %s: %v", f, errors.Unwrap(err))
		}
	}
	return dir
}
