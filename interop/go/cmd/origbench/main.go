// Command origbench measures modsynclog-server the way existing users of the original
// go-modsynclog drive it (issue 8, item 4):
//
//   - ingest: N records of mixed sizes (default 20,000; 0 B to 3 MiB, mean about 5.7 KB)
//     sent the original SDK's way, one unary grpc_proto_log.Log call per record on one
//     long-lived grpc.ClientConn (grpc.Dial + WithInsecure, context.Background()), from 1
//     caller and from 8 callers sharing the handle;
//   - catch-up: one day of 130,000 records (mean about 1.4 KB) copied by a replica built
//     the original client's way (go-socket client + go-filelog Add) from the legacy sync
//     socket; the copy must be byte-identical.
//
// For each it prints records/s, the server's CPU seconds (utime+stime of its process from
// /proc/PID/stat, before and after) and CPU µs per record. It starts the server itself
// (--server BIN --server-args "...") or measures a running one (--addr/--sync-addr/--pid).
package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loudbund/go-filelog/filelog_v1"

	"modsynclog/interop/origreplica"
	"modsynclog/interop/origsdk"
)

type config struct {
	serverBin  string
	serverArgs []string
	addr       string
	syncAddr   string
	pid        int
	dataDir    string

	phases   map[string]bool
	n        int
	callers  []int
	method   string
	seed     int64
	catchupN int
	date     string
	reconn   time.Duration
	timeout  time.Duration
	workDir  string
	keep     bool
	prepare  string
	logEvery bool
}

func main() {
	var cfg config
	var phases, callers, serverArgs string
	flag.StringVar(&cfg.serverBin, "server", "", "modsynclog-server binary to start (on free loopback ports, a fresh temp store per phase)")
	flag.StringVar(&serverArgs, "server-args", "", "extra flags for --server, split on spaces (e.g. \"--fsync never\")")
	flag.StringVar(&cfg.addr, "addr", "", "gRPC address of a running server (instead of --server)")
	flag.StringVar(&cfg.syncAddr, "sync-addr", "", "legacy sync socket of the running server (catch-up phase)")
	flag.IntVar(&cfg.pid, "pid", 0, "process id of the running server (CPU figures)")
	flag.StringVar(&cfg.dataDir, "data-dir", "", "store folder of the running server (optional: count/byte checks)")
	flag.StringVar(&phases, "phases", "ingest,catchup", "phases to run: ingest, catchup")
	flag.IntVar(&cfg.n, "n", 20000, "ingest: records per caller case")
	flag.StringVar(&callers, "callers", "1,8", "ingest: caller counts, one case each")
	flag.StringVar(&cfg.method, "method", "db", "ingest: db (DbLogWrite, type 1001), app, json, or mix (the three in turn)")
	flag.Int64Var(&cfg.seed, "seed", 1, "seed of sizes and payloads")
	flag.IntVar(&cfg.catchupN, "catchup-records", 130000, "catch-up: records of the day")
	flag.StringVar(&cfg.date, "catchup-date", "", "catch-up: the day (YYYY-MM-DD) to write/copy; default yesterday")
	flag.DurationVar(&cfg.reconn, "reconnect-delay", 5*time.Second, "catch-up: replica reconnect delay after a drop (the original: 5s)")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up a phase after this long")
	flag.StringVar(&cfg.workDir, "work-dir", "", "folder for stores and logs (default: a new temp folder, removed at the end)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work folder")
	flag.StringVar(&cfg.prepare, "prepare-catchup", "", "only write the catch-up day into this store folder, then exit (for --sync-addr runs)")
	flag.Parse()

	cfg.serverArgs = strings.Fields(serverArgs)
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if p != "ingest" && p != "catchup" {
				fatalf("unknown phase %q", p)
			}
			cfg.phases[p] = true
		}
	}
	for _, c := range strings.Split(callers, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || k < 1 {
			fatalf("bad --callers %q", callers)
		}
		cfg.callers = append(cfg.callers, k)
	}
	switch cfg.method {
	case "db", "app", "json", "mix":
	default:
		fatalf("bad --method %q", cfg.method)
	}
	if cfg.date == "" {
		cfg.date = time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	}
	if _, err := time.ParseInLocation("2006-01-02", cfg.date, time.Local); err != nil {
		fatalf("bad --catchup-date: %v", err)
	}

	if cfg.prepare != "" {
		st, took, err := writeCatchupDay(cfg, cfg.prepare)
		if err != nil {
			fatalf("%v", err)
		}
		fmt.Printf("wrote %s into %s in %.2f s: %v\n", cfg.date, cfg.prepare, took.Seconds(), st)
		fmt.Printf("serve it (e.g. modsynclog-server --data-dir %s), then run origbench --phases catchup --sync-addr ADDR --pid PID --catchup-date %s --data-dir %s\n", cfg.prepare, cfg.date, cfg.prepare)
		return
	}
	if (cfg.serverBin == "") == (cfg.addr == "" && cfg.syncAddr == "") {
		fatalf("give either --server BIN or --addr/--sync-addr with --pid")
	}
	if cfg.serverBin == "" && cfg.pid == 0 {
		fatalf("--pid is needed with --addr/--sync-addr (CPU figures)")
	}
	if cfg.serverBin == "" && cfg.phases["ingest"] && cfg.addr == "" {
		fatalf("--addr is needed for the ingest phase")
	}
	if cfg.serverBin == "" && cfg.phases["catchup"] && cfg.syncAddr == "" {
		fatalf("--sync-addr is needed for the catch-up phase")
	}

	if cfg.workDir == "" {
		d, err := os.MkdirTemp("", "origbench-")
		if err != nil {
			fatalf("%v", err)
		}
		cfg.workDir = d
		if !cfg.keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(cfg.workDir, 0o755); err != nil {
		fatalf("%v", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()

	fmt.Printf("origbench: the original go-modsynclog SDK and replica patterns against modsynclog-server\n")
	if cfg.serverBin != "" {
		fmt.Printf("server: %s %s (started per phase on a fresh store in %s)\n", cfg.serverBin, strings.Join(cfg.serverArgs, " "), cfg.workDir)
	} else {
		fmt.Printf("server: pid %d, gRPC %s, sync %s\n", cfg.pid, cfg.addr, cfg.syncAddr)
	}
	fmt.Printf("machine: %d CPUs; CPU figures from /proc/PID/stat at %v ticks/s\n", runtime.NumCPU(), clkTck)

	failed := false
	if cfg.phases["ingest"] {
		if err := runIngest(cfg); err != nil {
			fmt.Printf("ingest: FAILED: %v\n", err)
			failed = true
		}
	}
	if cfg.phases["catchup"] {
		if err := runCatchup(cfg); err != nil {
			fmt.Printf("catch-up: FAILED: %v\n", err)
			failed = true
		}
	}
	if cfg.keep {
		fmt.Printf("work folder kept: %s\n", cfg.workDir)
	}
	if failed {
		cleanup()
		os.Exit(1)
	}
}

var cleanupOnce sync.Once

func cleanup() {
	cleanupOnce.Do(func() {
		for _, s := range started {
			s.stop()
		}
	})
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "origbench: "+format+"\n", args...)
	cleanup()
	os.Exit(2)
}

// ---------------------------------------------------------------- ingest

func kindFor(method string, i int) origsdk.Kind {
	switch method {
	case "app":
		return origsdk.AppLog
	case "json":
		return origsdk.JsonLog
	case "mix":
		return origsdk.Kind(i % 3)
	}
	return origsdk.DbLog
}

func runIngest(cfg config) error {
	rng := rand.New(rand.NewSource(cfg.seed))
	sz := sizes(ingestClasses, cfg.n, rng)
	text := corpus(4<<20, rng)
	data := payloads(text, sz, rng)
	sum := summarize(sz, ingestClasses)
	fmt.Printf("\n== ingest: original SDK pattern, one unary %s per record on one long-lived connection\n", methodName(cfg.method))
	fmt.Printf("sizes (seed %d): %s\n  classes: %s\n  per class: %v\n", cfg.seed, sum, describeClasses(ingestClasses), sum.classCount)
	fmt.Printf("payloads: slices of pseudo JSON log text (zlib: %s)\n", zlibRatio(text[:1<<20]))

	srv := &server{pid: cfg.pid, grpcAddr: cfg.addr, dataDir: cfg.dataDir}
	if cfg.serverBin != "" {
		var err error
		srv, err = startServer(cfg.serverBin, cfg.serverArgs, filepath.Join(cfg.workDir, "ingest-store"), cfg.workDir, "server-ingest")
		if err != nil {
			return err
		}
		defer srv.stop()
	}
	fmt.Printf("%-8s %9s %8s %10s %10s %9s %11s %12s %11s %21s\n", "callers", "records", "wall s", "records/s", "MiB/s", "srv CPU s", "srv µs/rec", "client CPU s", "srv RSS MiB", "latency p50/p99/max")
	for _, callers := range cfg.callers {
		res, err := ingestCase(cfg, srv, callers, data)
		if err != nil {
			return fmt.Errorf("%d callers: %v", callers, err)
		}
		fmt.Printf("%-8d %9d %8.3f %10.0f %10.1f %9.2f %11.1f %12.2f %11.1f %21s\n",
			callers, res.n, res.wall.Seconds(), float64(res.n)/res.wall.Seconds(), float64(sum.total)/(1<<20)/res.wall.Seconds(),
			res.srvCPU, res.srvCPU*1e6/float64(res.n), res.cliCPU, res.rssMiB,
			fmt.Sprintf("%s/%s/%s", ms(res.p50), ms(res.p99), ms(res.max)))
		if res.check != "" {
			fmt.Printf("         check: %s\n", res.check)
		}
	}
	return nil
}

func methodName(m string) string {
	switch m {
	case "mix":
		return "DbLogWrite/AppLogWrite/JsonLogWrite (in turn)"
	default:
		return kindFor(m, 0).String()
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

type ingestResult struct {
	n              int
	wall           time.Duration
	srvCPU, cliCPU float64
	rssMiB         float64
	p50, p99, max  time.Duration
	check          string
}

func ingestCase(cfg config, srv *server, callers int, data [][]byte) (ingestResult, error) {
	var res ingestResult
	n := len(data)
	// one handle per kind in use, each one grpc.ClientConn, made fresh for the case as
	// an application process would, shared by all callers
	var handles [3]*origsdk.Handle
	for i := 0; i < n && i < 3; i++ {
		k := kindFor(cfg.method, i)
		if handles[k] == nil {
			h, err := origsdk.New(k, srv.grpcAddr)
			if err != nil {
				return res, err
			}
			defer h.Close()
			handles[k] = h
		}
	}
	before, beforeErr := storeTotals(srv.dataDir)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.timeout)
	cpu0, err := procCPU(srv.pid)
	if err != nil {
		return res, err
	}
	self0 := selfCPU()
	t0 := time.Now()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if i%1000 == 0 && time.Now().After(deadline) {
					firstErr.Store(fmt.Errorf("timeout after %v", cfg.timeout))
					return
				}
				k := kindFor(cfg.method, i)
				s := time.Now()
				rep, err := handles[k].WriteRaw(data[i])
				lat[i] = time.Since(s)
				if err == nil && (rep.ErrCode != 0 || rep.ErrMessage != "ok") {
					err = fmt.Errorf("reply errCode %d errMessage %q", rep.ErrCode, rep.ErrMessage)
				}
				if err != nil {
					firstErr.Store(fmt.Errorf("record %d (%d bytes, %v): %v", i, len(data[i]), k, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(t0)
	cpu1, err := procCPU(srv.pid)
	if err != nil {
		return res, err
	}
	res.cliCPU = selfCPU() - self0
	if e := firstErr.Load(); e != nil {
		return res, e.(error)
	}
	res.n = n
	res.srvCPU = cpu1 - cpu0
	res.rssMiB = peakRSS(srv.pid)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	res.p50, res.p99, res.max = lat[n/2], lat[n*99/100], lat[n-1]
	if srv.dataDir != "" && beforeErr == nil {
		// The original answers before it writes: give its queue time to drain (CPU and
		// wall figures above are already taken). modsynclog's store is complete at once.
		after, err := storeTotals(srv.dataDir)
		for settle := time.Now().Add(10 * time.Second); err == nil && after.records-before.records < int64(n) && time.Now().Before(settle); {
			time.Sleep(20 * time.Millisecond)
			after, err = storeTotals(srv.dataDir)
		}
		if err != nil {
			return res, err
		}
		var want int64
		for _, d := range data {
			want += int64(len(d)) + 10
		}
		if got := after.records - before.records; got != int64(n) {
			return res, fmt.Errorf("the store grew by %d records, %d were acknowledged", got, n)
		}
		if got := after.dataBytes - before.dataBytes; got != want {
			return res, fmt.Errorf("the data files grew by %d bytes, want %d (10-byte header + payload per record)", got, want)
		}
		res.check = fmt.Sprintf("store grew by %d records and %d data bytes, as sent", n, want)
	}
	return res, nil
}

type totals struct{ records, dataBytes int64 }

var dayDir = regexp.MustCompile(`^\d{8}$`)

// storeTotals adds up index entries and data file sizes over every day folder.
func storeTotals(root string) (totals, error) {
	var t totals
	if root == "" {
		return t, errors.New("no store folder")
	}
	days, err := os.ReadDir(root)
	if err != nil {
		return t, err
	}
	for _, d := range days {
		if !d.IsDir() || !dayDir.MatchString(d.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return t, err
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil {
				return t, err
			}
			switch {
			case f.Name() == "index":
				t.records += info.Size() / 12
			case strings.HasPrefix(f.Name(), "data"):
				t.dataBytes += info.Size()
			}
		}
	}
	return t, nil
}

func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func zlibRatio(b []byte) string {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return fmt.Sprintf("%.0f%% of the size", 100*float64(buf.Len())/float64(len(b)))
}

// ---------------------------------------------------------------- catch-up

// writeCatchupDay writes the catch-up day with go-filelog Add (the original's writer):
// times spread over the day, types 1001/1101/1201.
func writeCatchupDay(cfg config, root string) (sizeSummary, time.Duration, error) {
	rng := rand.New(rand.NewSource(cfg.seed + 1))
	sz := sizes(catchupClasses, cfg.catchupN, rng)
	text := corpus(1<<20, rng)
	data := payloads(text, sz, rng)
	day, _ := time.ParseInLocation("2006-01-02", cfg.date, time.Local)
	if _, err := os.Stat(filepath.Join(root, strings.ReplaceAll(cfg.date, "-", ""), "index")); err == nil {
		return sizeSummary{}, 0, fmt.Errorf("%s already holds %s", root, cfg.date)
	}
	t0 := time.Now()
	fl := filelog_v1.New(root, cfg.date)
	types := []int16{1001, 1101, 1201}
	for i, d := range data {
		tm := int32(day.Unix() + int64(i)*86400/int64(len(data)))
		if _, err := fl.Add(tm, types[rng.Intn(3)], d); err != nil {
			fl.Close()
			return sizeSummary{}, 0, err
		}
	}
	fl.Close()
	return summarize(sz, catchupClasses), time.Since(t0), nil
}

func runCatchup(cfg config) error {
	fmt.Printf("\n== catch-up: original replica pattern (go-socket client + go-filelog Add) copying %s from the legacy sync socket\n", cfg.date)
	srv := &server{pid: cfg.pid, syncAddr: cfg.syncAddr, dataDir: cfg.dataDir}
	if cfg.serverBin != "" {
		master := filepath.Join(cfg.workDir, "catchup-master")
		st, took, err := writeCatchupDay(cfg, master)
		if err != nil {
			return err
		}
		fmt.Printf("sizes (seed %d): %v\n  classes: %s\n  per class: %v\n", cfg.seed+1, st, describeClasses(catchupClasses), st.classCount)
		fmt.Printf("store written with go-filelog in %.2f s; payloads: slices of pseudo JSON log text\n", took.Seconds())
		srv, err = startServer(cfg.serverBin, cfg.serverArgs, master, cfg.workDir, "server-catchup")
		if err != nil {
			return err
		}
		defer srv.stop()
	}
	today := time.Now().Format("2006-01-02")
	d0, _ := time.ParseInLocation("2006-01-02", cfg.date, time.Local)
	d1, _ := time.ParseInLocation("2006-01-02", today, time.Local)
	history := -int(d1.Sub(d0).Hours()/24 + 0.5)
	if history >= 0 {
		return fmt.Errorf("--catchup-date %s is not before today %s (a replica finishes only past days)", cfg.date, today)
	}
	replica := filepath.Join(cfg.workDir, "catchup-replica")
	if err := os.RemoveAll(replica); err != nil {
		return err
	}

	cpu0, err := procCPU(srv.pid)
	if err != nil {
		return err
	}
	self0 := selfCPU()
	t0 := time.Now()
	r, err := origreplica.Start(srv.syncAddr, replica, origreplica.Options{
		HistoryDays: history, RetainDays: history, ReconnectDelay: cfg.reconn,
		Logf: func(f string, a ...interface{}) { fmt.Printf("  replica: "+f+"\n", a...) },
	})
	if err != nil {
		return err
	}
	st, ok := r.Wait(cfg.timeout, func(s origreplica.Stats) bool {
		if len(s.Errors) > 0 {
			return true
		}
		for _, d := range s.Finished {
			if d == cfg.date {
				return true
			}
		}
		return false
	})
	wall := time.Since(t0)
	cpu1, err := procCPU(srv.pid)
	if err != nil {
		return err
	}
	cli := selfCPU() - self0
	r.Close()
	if len(st.Errors) > 0 {
		return fmt.Errorf("replica errors: %q", st.Errors)
	}
	if !ok {
		return fmt.Errorf("%s not finished after %v: %d records copied", cfg.date, cfg.timeout, st.Records)
	}
	n := st.Counts[cfg.date]
	fmt.Printf("%9s %8s %10s %10s %9s %11s %17s %8s %8s %11s\n", "records", "wall s", "records/s", "MiB/s", "srv CPU s", "srv µs/rec", "replica CPU s", "batches", "drops", "srv RSS MiB")
	fmt.Printf("%9d %8.3f %10.0f %10.1f %9.2f %11.2f %17.2f %8d %8d %11.1f\n",
		n, wall.Seconds(), float64(n)/wall.Seconds(), float64(st.Bytes)/(1<<20)/wall.Seconds(),
		cpu1-cpu0, (cpu1-cpu0)*1e6/float64(max(n, 1)), cli, st.Batches, st.Disconnects+st.ConnectFails, peakRSS(srv.pid))
	if st.Disconnects > 0 || st.ConnectFails > 0 {
		fmt.Printf("  note: the replica was dropped %d time(s) and reconnected after %v each (counted in the wall time)\n", st.Disconnects+st.ConnectFails, cfg.reconn)
	}
	if srv.dataDir == "" {
		fmt.Printf("  check: skipped (no --data-dir of the master)\n")
		return nil
	}
	folder := strings.ReplaceAll(cfg.date, "-", "")
	files, bytesCmp, err := compareDirs(filepath.Join(srv.dataDir, folder), filepath.Join(replica, folder))
	if err != nil {
		return fmt.Errorf("the copy differs from the master: %v", err)
	}
	fmt.Printf("  check: replica %s byte-identical to the master (%d files, %s: %s)\n", folder, len(files), human(bytesCmp), strings.Join(files, " "))
	return nil
}

// compareDirs compares every regular file of two folders byte for byte.
func compareDirs(a, b string) ([]string, int64, error) {
	ea, err := os.ReadDir(a)
	if err != nil {
		return nil, 0, err
	}
	eb, err := os.ReadDir(b)
	if err != nil {
		return nil, 0, err
	}
	var na, nb []string
	for _, e := range ea {
		na = append(na, e.Name())
	}
	for _, e := range eb {
		nb = append(nb, e.Name())
	}
	if strings.Join(na, ",") != strings.Join(nb, ",") {
		return nil, 0, fmt.Errorf("files: master %v, replica %v", na, nb)
	}
	var total int64
	for _, name := range na {
		n, err := compareFiles(filepath.Join(a, name), filepath.Join(b, name))
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %v", name, err)
		}
		total += n
	}
	return na, total, nil
}

func compareFiles(a, b string) (int64, error) {
	fa, err := os.Open(a)
	if err != nil {
		return 0, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return 0, err
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, ea := io.ReadFull(ra, bufA)
		nb, eb := io.ReadFull(rb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			i := 0
			for i < na && i < nb && bufA[i] == bufB[i] {
				i++
			}
			return off, fmt.Errorf("first difference at byte %d", off+int64(i))
		}
		off += int64(na)
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return off, nil
			}
			return off, fmt.Errorf("read: %v %v", ea, eb)
		}
	}
}
