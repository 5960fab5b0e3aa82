package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loudbund/go-filelog/filelog_v1"
)

var (
	serverBin  string
	clientBin  string
	vectorsDir string
)

func TestMain(m *testing.M) {
	serverBin = envOr("MSL_SERVER_BIN", "../../target/debug/modsynclog-server")
	clientBin = envOr("MSL_CLIENT_BIN", "../../target/debug/modsynclog-client")
	vectorsDir = envOr("MSL_VECTORS", "/work/shared/vectors")
	for _, p := range []*string{&serverBin, &clientBin, &vectorsDir} {
		a, err := filepath.Abs(*p)
		if err == nil {
			*p = a
		}
	}
	for _, p := range []string{serverBin, clientBin, vectorsDir} {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(os.Stderr, "interop: missing %s: %v\n", p, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// childEnv is the environment without MODSYNCLOG_* variables, so that a
// caller's settings (token, server, send flag...) cannot change the test.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MODSYNCLOG_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a child started in its own process group; the group is killed in
// t.Cleanup whatever happens.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = childEnv()
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM to the group and waits; SIGKILL after the timeout.
func (p *proc) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if p.exited() {
		return fmt.Errorf("%s had already exited: %v", p.name, p.err)
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not stop within %v after SIGTERM", p.name, timeout)
	}
}

func waitTCP(t *testing.T, addr string, timeout time.Duration, p *proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p != nil && p.exited() {
			t.Fatalf("%s exited before listening on %s: %v\n%s", p.name, addr, p.err, p.out.String())
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s after %v", addr, timeout)
}

// ourServer starts modsynclog-server on dataDir with free ports.
type ourServer struct {
	p        *proc
	grpcAddr string
	syncAddr string
}

func startOurServer(t *testing.T, dataDir string, extra ...string) *ourServer {
	t.Helper()
	s := &ourServer{
		grpcAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		syncAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	args := append([]string{"--data-dir", dataDir, "--grpc-addr", s.grpcAddr, "--sync-addr", s.syncAddr, "--fsync", "never"}, extra...)
	s.p = startProc(t, "modsynclog-server", serverBin, args...)
	waitTCP(t, s.grpcAddr, 15*time.Second, s.p)
	waitTCP(t, s.syncAddr, 15*time.Second, s.p)
	return s
}

// runClient runs modsynclog-client to completion (own process group, killed on timeout).
func runClient(t *testing.T, timeout time.Duration, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, clientBin, args...)
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, e bytes.Buffer
	cmd.Stdout = &o
	cmd.Stderr = &e
	err = cmd.Run()
	return o.Bytes(), e.String(), err
}

// rec is one store record as both sides see it.
type rec struct {
	Date string
	ID   int64
	Time int32
	Type int16
	Data []byte
}

func (r rec) String() string {
	d := r.Data
	suffix := ""
	if len(d) > 40 {
		d = d[:40]
		suffix = fmt.Sprintf("...(%d bytes)", len(r.Data))
	}
	return fmt.Sprintf("{%s #%d time=%d type=%d data=%q%s}", r.Date, r.ID, r.Time, r.Type, d, suffix)
}

type readLine struct {
	DataB64 *string `json:"data_b64"`
	Date    *string `json:"date"`
	ID      *int64  `json:"id"`
	Text    *string `json:"text"`
	Time    *int64  `json:"time"`
	Type    *int64  `json:"type"`
}

// readOurs runs `modsynclog-client read --dir DIR [extra...]` and parses its JSON lines.
func readOurs(t *testing.T, dir string, extra ...string) []rec {
	t.Helper()
	out, stderr, err := runClient(t, 30*time.Second, append([]string{"read", "--dir", dir}, extra...)...)
	if err != nil {
		t.Fatalf("modsynclog-client read %v: %v\n%s", extra, err, stderr)
	}
	var recs []rec
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l readLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("read output is not JSON: %v: %.200s", err, line)
		}
		if l.DataB64 == nil || l.Date == nil || l.ID == nil || l.Time == nil || l.Type == nil {
			t.Fatalf("read output misses a field: %.200s", line)
		}
		data, err := base64.StdEncoding.DecodeString(*l.DataB64)
		if err != nil {
			t.Fatalf("bad data_b64: %v", err)
		}
		if l.Text != nil && *l.Text != string(data) {
			t.Errorf("read: text %q != data_b64 for %s #%d", *l.Text, *l.Date, *l.ID)
		}
		recs = append(recs, rec{Date: *l.Date, ID: *l.ID, Time: int32(*l.Time), Type: int16(*l.Type), Data: data})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan read output: %v", err)
	}
	return recs
}

var dayRe = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$`)

// dayFolders lists YYYYMMDD folders of root as YYYY-MM-DD dates, sorted.
func dayFolders(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("readdir %s: %v", root, err)
	}
	var days []string
	for _, e := range ents {
		if m := dayRe.FindStringSubmatch(e.Name()); e.IsDir() && m != nil {
			days = append(days, m[1]+"-"+m[2]+"-"+m[3])
		}
	}
	sort.Strings(days)
	return days
}

// goReadDay reads every record of a day with the original go-filelog
// (filelog_v1.New + GetOne until (nil, nil)). Panics of the library become errors.
func goReadDay(root, date string) (recs []rec, sends []*filelog_v1.UDataSend, autoID int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-filelog panicked on %s: %v", date, r)
		}
	}()
	fl := filelog_v1.New(root, date)
	defer fl.Close()
	autoID, _ = fl.GetAutoId()
	for id := int64(0); ; id++ {
		d, e := fl.GetOne(id)
		if e != nil {
			return recs, sends, autoID, fmt.Errorf("GetOne(%s, %d): %v", date, id, e)
		}
		if d == nil {
			break
		}
		if d.Date != date || d.Id != id || int(d.DataLength) != len(d.Data) {
			return recs, sends, autoID, fmt.Errorf("GetOne(%s,%d) inconsistent: %+v", date, id, d)
		}
		sends = append(sends, d)
		recs = append(recs, rec{Date: d.Date, ID: d.Id, Time: d.Time, Type: d.DataType, Data: append([]byte(nil), d.Data...)})
	}
	if int64(len(recs)) != autoID {
		return recs, sends, autoID, fmt.Errorf("%s: GetAutoId()=%d but GetOne found %d records", date, autoID, len(recs))
	}
	return recs, sends, autoID, nil
}

func compareRecs(t *testing.T, what string, want, got []rec) bool {
	t.Helper()
	ok := true
	n := len(want)
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
		ok = false
		if len(got) < n {
			n = len(got)
		}
	}
	bad := 0
	for i := 0; i < n; i++ {
		w, g := want[i], got[i]
		if w.Date != g.Date || w.ID != g.ID || w.Time != g.Time || w.Type != g.Type || !bytes.Equal(w.Data, g.Data) {
			ok = false
			if bad++; bad <= 5 {
				t.Errorf("%s: record %d differs:\n want %v\n  got %v", what, i, w, g)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d records differ in all", what, bad)
	}
	return ok
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s -> %s: %v", src, dst, err)
	}
}

// treeFiles maps relative path -> content for every regular file under root.
func treeFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			m[rel+"/"] = nil
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = b
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return m
}

func compareTrees(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: %s missing", what, k)
			continue
		}
		if !bytes.Equal(w, g) {
			t.Errorf("%s: %s differs: %s", what, k, firstDiff(w, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s", what, k)
		}
	}
}

func firstDiff(want, got []byte) string {
	n := len(want)
	if len(got) < n {
		n = len(got)
	}
	i := 0
	for i < n && want[i] == got[i] {
		i++
	}
	lo := i - 8
	if lo < 0 {
		lo = 0
	}
	hw, hg := lo+24, lo+24
	if hw > len(want) {
		hw = len(want)
	}
	if hg > len(got) {
		hg = len(got)
	}
	return fmt.Sprintf("sizes want %d got %d, first difference at byte %d: want[%d:]=% x got[%d:]=% x", len(want), len(got), i, lo, want[lo:hw], lo, got[lo:hg])
}

func today() string { return time.Now().Format("2006-01-02") }

func addDays(date string, n int) string {
	d, err := time.ParseInLocation("2006-01-02", date, time.Local)
	if err != nil {
		panic(err)
	}
	return d.AddDate(0, 0, n).Format("2006-01-02")
}

func folderOf(date string) string { return strings.ReplaceAll(date, "-", "") }
