package interop

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loudbund/go-filelog/filelog_v1"
)

// sendLines writes lines to a file and sends them with modsynclog-client send.
func sendLines(t *testing.T, grpcAddr string, lines []string, extra ...string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"send", "--server", grpcAddr}, extra...)
	args = append(args, f)
	if _, stderr, err := runClient(t, 60*time.Second, args...); err != nil {
		t.Fatalf("modsynclog-client %v: %v\n%s", args, err, stderr)
	}
}

func testLines() []string {
	var lines []string
	for i := 0; i < 300; i++ {
		var s string
		switch i % 6 {
		case 0:
			s = fmt.Sprintf("line %03d plain ascii", i)
		case 1:
			s = fmt.Sprintf("日志记录 %d：中文内容 ✓", i)
		case 2:
			s = fmt.Sprintf(`{"seq":%d,"msg":"héllo wörld","arr":[1,2,3]}`, i)
		case 3:
			s = fmt.Sprintf("emoji 🚀🎉 %d\tTAB\tinside", i)
		case 4:
			s = fmt.Sprintf("%d", i)
		case 5:
			s = fmt.Sprintf("mixed Ελληνικά русский العربية %d", i)
		}
		if i == 150 {
			// a long line: 200 KB of UTF-8
			var b strings.Builder
			for b.Len() < 200_000 {
				b.WriteString(fmt.Sprintf("长行%05d-abcdefghij|", b.Len()))
			}
			s = b.String()
		}
		lines = append(lines, s)
	}
	return lines
}

// (d1) the original go-filelog reads a store written by our server.
func TestGoFilelogReadsOurStore(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startOurServer(t, data)
	t0 := time.Now().Unix()
	lines := testLines()
	sendLines(t, srv.grpcAddr, lines) // native stream, type 1201 (default)
	legacyLines := []string{"legacy unary 1", "legacy 中文 2", `{"legacy":3}`}
	sendLines(t, srv.grpcAddr, legacyLines, "--legacy", "--type", "1101")
	negLines := []string{"negative type"}
	sendLines(t, srv.grpcAddr, negLines, "--legacy", "--type", "-2")
	t1 := time.Now().Unix()
	if err := srv.p.stop(t, 15*time.Second); err != nil {
		t.Errorf("server stop (SIGTERM): %v", err)
	}

	cp := filepath.Join(tmp, "copy")
	copyTree(t, data, cp)
	before := treeFiles(t, data)

	// Every record of every day through go-filelog.
	var goRecs []rec
	days := dayFolders(t, cp)
	for _, d := range days {
		r, _, _, err := goReadDay(cp, d)
		if err != nil {
			t.Fatalf("go-filelog: %v", err)
		}
		goRecs = append(goRecs, r...)
	}
	ours := readOurs(t, data)
	compareRecs(t, "modsynclog-client read vs go-filelog GetOne", goRecs, ours)
	// read must not write anything.
	compareTrees(t, "store after modsynclog-client read", before, treeFiles(t, data))

	// The records are the lines we sent, in order, with their types and time.
	var wantData []string
	var wantType []int16
	for _, l := range lines {
		wantData, wantType = append(wantData, l), append(wantType, 1201)
	}
	for _, l := range legacyLines {
		wantData, wantType = append(wantData, l), append(wantType, 1101)
	}
	for _, l := range negLines {
		wantData, wantType = append(wantData, l), append(wantType, -2)
	}
	if len(goRecs) != len(wantData) {
		t.Fatalf("go-filelog found %d records in days %v, sent %d", len(goRecs), days, len(wantData))
	}
	// `send --legacy` makes up to 16 concurrent unary calls, so the order of the
	// legacy records is not defined: compare them as a set, the stream part in order.
	nStream := len(lines)
	sortTail := func(d []string, ty []int16) []string {
		var out []string
		for i := nStream; i < len(d); i++ {
			out = append(out, fmt.Sprintf("%d|%s", ty[i], d[i]))
		}
		sort.Strings(out)
		return out
	}
	gotData := make([]string, len(goRecs))
	gotType := make([]int16, len(goRecs))
	for i, r := range goRecs {
		gotData[i], gotType[i] = string(r.Data), r.Type
	}
	if a, b := sortTail(wantData, wantType), sortTail(gotData, gotType); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("legacy-sent records: got %q, want %q", b, a)
	}
	for i, r := range goRecs {
		if i >= nStream {
			r.Data, r.Type = []byte(wantData[i]), wantType[i] // checked above
		}
		if string(r.Data) != wantData[i] || r.Type != wantType[i] {
			t.Errorf("record %d = %v, want type %d data %.60q", i, r, wantType[i], wantData[i])
			break
		}
		if int64(r.Time) < t0-1 || int64(r.Time) > t1+1 {
			t.Errorf("record %d time %d outside [%d,%d]", i, r.Time, t0, t1)
			break
		}
		if r.Date != time.Unix(int64(r.Time), 0).Format("2006-01-02") {
			t.Errorf("record %d stored under %s but its time %d is local day %s", i, r.Date, r.Time, time.Unix(int64(r.Time), 0).Format("2006-01-02"))
			break
		}
	}

	// Byte layout: go-filelog Add of the same records gives identical files.
	re := filepath.Join(tmp, "rewrite")
	byDay := map[string][]rec{}
	for _, r := range goRecs {
		byDay[r.Date] = append(byDay[r.Date], r)
	}
	for day, rs := range byDay {
		fl := filelog_v1.New(re, day)
		for _, r := range rs {
			if _, err := fl.Add(r.Time, r.Type, r.Data); err != nil {
				t.Fatal(err)
			}
		}
		fl.Close()
		for _, f := range []string{"index", "data000000"} {
			w, err1 := os.ReadFile(filepath.Join(re, folderOf(day), f))
			g, err2 := os.ReadFile(filepath.Join(cp, folderOf(day), f))
			if err1 != nil || err2 != nil {
				t.Errorf("%s/%s: %v %v", day, f, err1, err2)
				continue
			}
			if !bytes.Equal(w, g) {
				t.Errorf("%s/%s is not what go-filelog Add writes for the same records: %s", day, f, firstDiff(w, g))
			}
		}
	}
	t.Logf("go-filelog read %d records in %d day folder(s) %v", len(goRecs), len(days), days)
}

type goStoreDay struct {
	date   string
	finish bool
	recs   []rec
}

func genGoStore(t *testing.T, root string, days []string, counts []int, finish []bool) []goStoreDay {
	t.Helper()
	rng := rand.New(rand.NewSource(20261121))
	types := []int16{0, 1, -1, 32767, -32768, 1001, 1101, 1201, 7, 302}
	times := []int32{0, -1, math.MaxInt32, math.MinInt32, 1795190400}
	sizes := []int{0, 1, 2, 10, 100, 1000, 4095, 70000}
	var out []goStoreDay
	for di, day := range days {
		fl := filelog_v1.New(root, day)
		gd := goStoreDay{date: day, finish: finish[di]}
		for i := 0; i < counts[di]; i++ {
			var tm int32
			if i < len(times) {
				tm = times[i]
			} else {
				tm = 1795190400 + int32(rng.Intn(86400*30))
			}
			ty := types[rng.Intn(len(types))]
			sz := sizes[rng.Intn(len(sizes))]
			if i == 7 && di == 0 {
				sz = 300_000
			}
			data := make([]byte, sz)
			rng.Read(data)
			if i%5 == 0 && sz > 0 {
				data = []byte(fmt.Sprintf("text %s #%d 中文 ✓", day, i))
			}
			n, err := fl.Add(tm, ty, data)
			if err != nil || n != int64(i+1) {
				t.Fatalf("go-filelog Add: %d %v", n, err)
			}
			gd.recs = append(gd.recs, rec{Date: day, ID: int64(i), Time: tm, Type: ty, Data: data})
		}
		if gd.finish {
			fl.SetFinish()
		}
		fl.Close()
		out = append(out, gd)
	}
	return out
}

// (d2) our reader/verify/server on a store written by the original go-filelog.
func TestWeReadGoFilelogStore(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "go")
	td := today()
	days := []string{addDays(td, -2), addDays(td, -1), td}
	store := genGoStore(t, root, days, []int{150, 100, 80}, []bool{true, false, false})
	var all []rec
	for _, d := range store {
		all = append(all, d.recs...)
	}
	snapshot := treeFiles(t, root)

	t.Run("read", func(t *testing.T) {
		compareRecs(t, "modsynclog-client read of a go-filelog store", all, readOurs(t, root))
	})
	t.Run("read_from_date_id", func(t *testing.T) {
		var want []rec
		for _, r := range all {
			if r.Date > days[1] || (r.Date == days[1] && r.ID >= 50) {
				want = append(want, r)
			}
		}
		compareRecs(t, "read --date "+days[1]+" --id 50", want, readOurs(t, root, "--date", days[1], "--id", "50"))
	})
	t.Run("verify", func(t *testing.T) {
		out, stderr, err := runClient(t, 30*time.Second, "verify", "--dir", root)
		if err != nil {
			t.Errorf("modsynclog-client verify on a go-filelog store: %v\n%s%s", err, out, stderr)
		}
	})
	compareTrees(t, "go store after read/verify", snapshot, treeFiles(t, root))

	t.Run("server_appends_at_GetAutoId", func(t *testing.T) {
		srvDir := filepath.Join(tmp, "srv")
		copyTree(t, root, srvDir)
		fl := filelog_v1.New(srvDir, td)
		auto, _ := fl.GetAutoId()
		fl.Close()
		if auto != 80 {
			t.Fatalf("GetAutoId before = %d", auto)
		}
		srv := startOurServer(t, srvDir)
		line := "appended by modsynclog after go-filelog ✓"
		sendLines(t, srv.grpcAddr, []string{line}, "--type", "4242")
		if err := srv.p.stop(t, 15*time.Second); err != nil {
			t.Errorf("server stop: %v", err)
		}
		if today() != td {
			t.Skip("the date changed during the test")
		}
		recs, sends, auto2, err := goReadDay(srvDir, td)
		if err != nil {
			t.Fatalf("go-filelog after our append: %v", err)
		}
		if auto2 != auto+1 {
			t.Fatalf("GetAutoId after one append = %d, want %d", auto2, auto+1)
		}
		compareRecs(t, "old records after append", store[2].recs, recs[:auto])
		got := recs[auto]
		if got.ID != auto || string(got.Data) != line || got.Type != 4242 {
			t.Errorf("appended record = %v, want id %d type 4242 data %q", got, auto, line)
		}
		prev := sends[auto-1]
		if sends[auto].DataFileIndex != 0 || sends[auto].DataOffset != prev.DataOffset+10+int64(prev.DataLength) {
			t.Errorf("appended record at file %d offset %d, want offset %d", sends[auto].DataFileIndex, sends[auto].DataOffset, prev.DataOffset+10+int64(prev.DataLength))
		}
		// the old bytes are untouched (append only)
		for _, f := range []string{"index", "data000000"} {
			old := snapshot[filepath.Join(folderOf(td), f)]
			cur, _ := os.ReadFile(filepath.Join(srvDir, folderOf(td), f))
			if len(cur) < len(old) || !bytes.Equal(cur[:len(old)], old) {
				t.Errorf("%s/%s: existing bytes changed: %s", td, f, firstDiff(old, cur[:min(len(cur), len(old))]))
			}
		}
		// the past days are unchanged (a finish file may be added)
		for _, d := range days[:2] {
			r, _, _, err := goReadDay(srvDir, d)
			if err != nil {
				t.Errorf("go-filelog %s: %v", d, err)
			}
			for _, sd := range store {
				if sd.date == d {
					compareRecs(t, "past day "+d+" after server start", sd.recs, r)
				}
			}
		}
	})
}
