package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a modsynclog-server this program started (own process group) or one it was
// pointed at (pid only).
type server struct {
	pid      int
	grpcAddr string
	syncAddr string
	dataDir  string
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{}
}

var started []*server // stopped by cleanup, also on SIGINT/SIGTERM

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs bin with --data-dir, --grpc-addr, --sync-addr on free loopback
// ports, then extra; it returns once both ports accept connections.
func startServer(bin string, extra []string, dataDir, logDir, name string) (*server, error) {
	ga, err := freeAddr()
	if err != nil {
		return nil, err
	}
	sa, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	args := append([]string{"--data-dir", dataDir, "--grpc-addr", ga, "--sync-addr", sa}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var env []string
	for _, kv := range os.Environ() { // a caller's MODSYNCLOG_* settings must not change the run
		if !strings.HasPrefix(kv, "MODSYNCLOG_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{pid: cmd.Process.Pid, grpcAddr: ga, syncAddr: sa, dataDir: dataDir, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	started = append(started, s)
	go func() { _ = cmd.Wait(); close(s.done) }()
	for _, a := range []string{ga, sa} {
		if err := waitListening(a, 30*time.Second, s.done); err != nil {
			s.stop()
			return nil, fmt.Errorf("%s %s: %v (log: %s)\n%s", bin, strings.Join(args, " "), err, logPath, tailFile(logPath, 2000))
		}
	}
	return s, nil
}

func waitListening(addr string, timeout time.Duration, exited chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited before listening on %s", addr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %s after %v", addr, timeout)
}

// stop: SIGTERM to the group, SIGKILL after 15 s.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		<-s.done
	}
}

func (s *server) alive() bool {
	if s.cmd != nil {
		select {
		case <-s.done:
			return false
		default:
			return true
		}
	}
	return syscall.Kill(s.pid, 0) == nil
}

func tailFile(p string, n int) string {
	b, _ := os.ReadFile(p)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

var clkTck = clockTicks()

// clockTicks is AT_CLKTCK from the auxiliary vector (what sysconf(_SC_CLK_TCK) returns).
func clockTicks() float64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(b); i += 16 {
			k, v := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
			if k == 17 && v > 0 { // AT_CLKTCK
				return float64(v)
			}
			if k == 0 {
				break
			}
		}
	}
	return 100
}

// procCPU is utime+stime of a process (all its threads), in seconds, from /proc/PID/stat.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return float64(ut+st) / clkTck, nil
}

// selfCPU is this process's user+system CPU in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
