package interop

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/loudbund/go-socket/socket_v1"
)

// collect reads 302 batches until n records arrived (or timeout); a 304 is an error.
func collect(t *testing.T, g *goClient, n int, timeout time.Duration) []urec {
	t.Helper()
	var recs []urec
	deadline := time.Now().Add(timeout)
	for len(recs) < n && time.Now().Before(deadline) {
		select {
		case m := <-g.msgs:
			if m.CType != 302 {
				t.Errorf("unexpected ctype %d %q while waiting for records", m.CType, m.Content)
				continue
			}
			rs, err := decodeUData(m.Content)
			if err != nil {
				t.Errorf("302 does not decode: %v", err)
			}
			recs = append(recs, rs...)
		case <-g.disc:
			t.Fatalf("dropped after %d records", len(recs))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return recs
}

func quiet(t *testing.T, g *goClient, d time.Duration) {
	t.Helper()
	select {
	case m := <-g.msgs:
		t.Errorf("unexpected ctype %d (%d bytes) for an open day", m.CType, len(m.Content))
	case <-time.After(d):
	}
}

// (s) more of the conversation: >500 records, unfinished and missing past days, today live.
func TestGoSocketClientMoreDays(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	copyTree(t, filepath.Join(vectorsDir, "store"), data) // 20261121 (finished), 20261120 (no finish)
	const big = "2026-11-10"
	genGoStore(t, data, []string{big}, []int{1234}, []bool{true})
	ref := filepath.Join(t.TempDir(), "ref")
	copyTree(t, data, ref)
	_, sends, _, err := goReadDay(ref, big)
	if err != nil {
		t.Fatal(err)
	}
	var wantBig []urec
	for _, s := range sends {
		wantBig = append(wantBig, urec{s.Date, s.Time, s.Id, s.DataFileIndex, s.DataOffset, s.DataType, s.Data})
	}

	srv := startOurServer(t, data)
	g := newGoClient(t, srv.syncAddr, nil)
	if m, ok := g.next(t, 5*time.Second); !ok || m.CType != 8 {
		t.Fatalf("no hello reply: %+v", m)
	}

	t.Run("day_with_1234_records", func(t *testing.T) {
		got, batches := readDay(t, g, big, 0)
		compareURecs(t, big, wantBig, got)
		if batches < 3 {
			t.Errorf("%d batches for 1234 records (max 500 per batch)", batches)
		}
	})
	t.Run("unfinished_past_day", func(t *testing.T) {
		got, _ := readDay(t, g, "2026-11-20", 0)
		compareURecs(t, "2026-11-20", vectorRecords(t, "2026-11-20"), got)
	})
	t.Run("missing_past_day", func(t *testing.T) {
		got, batches := readDay(t, g, "2026-11-15", 0)
		if len(got) != 0 || batches != 0 {
			t.Errorf("missing day: %d records in %d batches, want only 304", len(got), batches)
		}
	})
	t.Run("today_live", func(t *testing.T) {
		td := today()
		var lines []string
		for i := 0; i < 5; i++ {
			lines = append(lines, fmt.Sprintf("live %d 实时", i))
		}
		sendLines(t, srv.grpcAddr, lines)
		if err := g.c.SendMsg(socket_v1.UDataSocket{Zlib: 0, CType: 301, Content: req301(td, 0)}); err != nil {
			t.Fatal(err)
		}
		got := collect(t, g, 5, 10*time.Second)
		quiet(t, g, 1500*time.Millisecond)
		more := []string{"live 5", "live 6 ✓", "live 7"}
		sendLines(t, srv.grpcAddr, more)
		got = append(got, collect(t, g, 3, 10*time.Second)...)
		all := append(lines, more...)
		if len(got) != len(all) {
			t.Fatalf("today: %d records, want %d", len(got), len(all))
		}
		for i, r := range got {
			if r.Date != td || r.ID != int64(i) || string(r.Data) != all[i] || r.DataType != 1201 {
				t.Errorf("today record %d = {%s id=%d ty=%d %q}", i, r.Date, r.ID, r.DataType, r.Data)
			}
		}
		quiet(t, g, 1500*time.Millisecond)
	})
}
