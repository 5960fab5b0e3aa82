package interop

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loudbund/go-socket/socket_v1"
)

const helloServer = "hello test msg from server"

// urec is one record of a 302 body (SPEC §5, 42-byte header + payload).
type urec struct {
	Date          string
	Time          int32
	ID            int64
	DataFileIndex int16
	DataOffset    int64
	DataType      int16
	Data          []byte
}

// decodeUData decodes a 302 body strictly: any malformed batch is an error.
func decodeUData(b []byte) ([]urec, error) {
	if len(b) == 0 {
		return nil, errors.New("empty batch")
	}
	var out []urec
	for len(b) > 0 {
		if len(b) < 42 {
			return out, fmt.Errorf("%d trailing bytes after %d records", len(b), len(out))
		}
		n := int32(binary.BigEndian.Uint32(b[0:4]))
		dl := int32(binary.BigEndian.Uint32(b[38:42]))
		if n < 0 || n != dl {
			return out, fmt.Errorf("record %d: length prefix %d != DataLength %d", len(out), n, dl)
		}
		if int64(len(b)) < 42+int64(n) {
			return out, fmt.Errorf("record %d: payload %d bytes, only %d left", len(out), n, len(b)-42)
		}
		out = append(out, urec{
			Date:          string(b[4:14]),
			Time:          int32(binary.BigEndian.Uint32(b[14:18])),
			ID:            int64(binary.BigEndian.Uint64(b[18:26])),
			DataFileIndex: int16(binary.BigEndian.Uint16(b[26:28])),
			DataOffset:    int64(binary.BigEndian.Uint64(b[28:36])),
			DataType:      int16(binary.BigEndian.Uint16(b[36:38])),
			Data:          append([]byte(nil), b[42:42+n]...),
		})
		b = b[42+n:]
	}
	return out, nil
}

// encodeUData encodes records per SPEC §5.
func encodeUData(rs []urec) []byte {
	var b bytes.Buffer
	for _, r := range rs {
		if len(r.Date) != 10 {
			panic("date must be 10 bytes")
		}
		var h [42]byte
		binary.BigEndian.PutUint32(h[0:4], uint32(len(r.Data)))
		copy(h[4:14], r.Date)
		binary.BigEndian.PutUint32(h[14:18], uint32(r.Time))
		binary.BigEndian.PutUint64(h[18:26], uint64(r.ID))
		binary.BigEndian.PutUint16(h[26:28], uint16(r.DataFileIndex))
		binary.BigEndian.PutUint64(h[28:36], uint64(r.DataOffset))
		binary.BigEndian.PutUint16(h[36:38], uint16(r.DataType))
		binary.BigEndian.PutUint32(h[38:42], uint32(len(r.Data)))
		b.Write(h[:])
		b.Write(r.Data)
	}
	return b.Bytes()
}

type manifest struct {
	Records []struct {
		Date          string `json:"date"`
		ID            int64  `json:"id"`
		Time          int32  `json:"time"`
		Type          int16  `json:"type"`
		DataB64       string `json:"data_b64"`
		DataFileIndex int16  `json:"data_file_index"`
		DataOffset    int64  `json:"data_offset"`
		DataLength    int32  `json:"data_length"`
	} `json:"records"`
}

// vectorRecords are the records of a vector day, from store-manifest.json.
func vectorRecords(t *testing.T, date string) []urec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorsDir, "store-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []urec
	for _, r := range m.Records {
		if r.Date != date {
			continue
		}
		d, err := base64.StdEncoding.DecodeString(r.DataB64)
		if err != nil || int32(len(d)) != r.DataLength {
			t.Fatalf("manifest record %d: %v", r.ID, err)
		}
		out = append(out, urec{Date: r.Date, Time: r.Time, ID: r.ID, DataFileIndex: r.DataFileIndex, DataOffset: r.DataOffset, DataType: r.Type, Data: d})
	}
	if len(out) == 0 {
		t.Fatalf("no vector records for %s", date)
	}
	return out
}

func compareURecs(t *testing.T, what string, want, got []urec) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		w, g := want[i], got[i]
		if w.Date != g.Date || w.Time != g.Time || w.ID != g.ID || w.DataFileIndex != g.DataFileIndex || w.DataOffset != g.DataOffset || w.DataType != g.DataType || !bytes.Equal(w.Data, g.Data) {
			t.Errorf("%s: record %d differs:\n want {%s t=%d id=%d f=%d off=%d ty=%d len=%d}\n  got {%s t=%d id=%d f=%d off=%d ty=%d len=%d}", what, i,
				w.Date, w.Time, w.ID, w.DataFileIndex, w.DataOffset, w.DataType, len(w.Data),
				g.Date, g.Time, g.ID, g.DataFileIndex, g.DataOffset, g.DataType, len(g.Data))
		}
	}
}

// goClient wraps the original socket_v1.Client with channels.
type goClient struct {
	c     *socket_v1.Client
	msgs  chan socket_v1.UDataSocket
	disc  chan struct{}
	fail  chan struct{}
	conn  chan struct{}
	once  sync.Once
	dOnce sync.Once
}

func newGoClient(t *testing.T, addr string, sendFlag *int) *goClient {
	t.Helper()
	host, portS, _ := splitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	g := &goClient{msgs: make(chan socket_v1.UDataSocket, 10000), disc: make(chan struct{}), fail: make(chan struct{}, 1), conn: make(chan struct{}, 1)}
	g.c = socket_v1.NewClient(host, port,
		func(msg socket_v1.UDataSocket, C *socket_v1.Client) {
			msg.Content = append([]byte(nil), msg.Content...)
			g.msgs <- msg
		},
		func(C *socket_v1.Client) { g.fail <- struct{}{} },
		func(C *socket_v1.Client) { g.conn <- struct{}{} },
		func(C *socket_v1.Client) { g.dOnce.Do(func() { close(g.disc) }) },
	)
	if sendFlag != nil {
		g.c.Set("SendFlag", *sendFlag)
	}
	g.c.Connect()
	select {
	case <-g.conn:
	case <-g.fail:
		t.Fatalf("go-socket client could not connect to %s", addr)
	case <-time.After(5 * time.Second):
		t.Fatalf("go-socket client: no connect callback")
	}
	t.Cleanup(func() {
		g.once.Do(func() {
			defer func() { recover() }()
			g.c.DisConnect()
		})
	})
	return g
}

func splitHostPort(a string) (string, string, error) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			return a[:i], a[i+1:], nil
		}
	}
	return a, "", errors.New("no port")
}

func (g *goClient) next(t *testing.T, timeout time.Duration) (socket_v1.UDataSocket, bool) {
	t.Helper()
	select {
	case m := <-g.msgs:
		return m, true
	case <-g.disc:
		// drain what arrived before the disconnect
		select {
		case m := <-g.msgs:
			return m, true
		default:
		}
		t.Errorf("connection dropped by the server")
		return socket_v1.UDataSocket{}, false
	case <-time.After(timeout):
		t.Errorf("no message within %v", timeout)
		return socket_v1.UDataSocket{}, false
	}
}

func req301(date string, id int64) []byte {
	// json_v1.JsonEncode(map[string]interface{}) == encoding/json of the same map
	b, _ := json.Marshal(map[string]interface{}{"date": date, "id": id})
	return b
}

// readDay sends 301 and collects 302 batches until 304.
func readDay(t *testing.T, g *goClient, date string, id int64) ([]urec, int) {
	t.Helper()
	if err := g.c.SendMsg(socket_v1.UDataSocket{Zlib: 0, CType: 301, Content: req301(date, id)}); err != nil {
		t.Fatalf("send 301: %v", err)
	}
	var recs []urec
	batches := 0
	for {
		m, ok := g.next(t, 10*time.Second)
		if !ok {
			return recs, batches
		}
		switch m.CType {
		case 302:
			batches++
			if m.Zlib != 1 {
				t.Errorf("302 sent with Zlib %d, the original sends 1", m.Zlib)
			}
			rs, err := decodeUData(m.Content)
			if err != nil {
				t.Errorf("302 batch %d (%d bytes) does not decode: %v", batches, len(m.Content), err)
			}
			if len(rs) > 500 {
				t.Errorf("302 batch of %d records (> 500)", len(rs))
			}
			recs = append(recs, rs...)
		case 304:
			if m.Zlib != 1 {
				t.Errorf("304 sent with Zlib %d, the original sends 1", m.Zlib)
			}
			if string(m.Content) != date {
				t.Errorf("304 body %q, want %q", m.Content, date)
			}
			return recs, batches
		case 8:
			t.Errorf("unexpected extra 8")
		default:
			t.Errorf("unexpected ctype %d (%d bytes)", m.CType, len(m.Content))
		}
	}
}

func serverWithVectorDay(t *testing.T, extra ...string) *ourServer {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	copyTree(t, filepath.Join(vectorsDir, "store", "20261121"), filepath.Join(data, "20261121"))
	return startOurServer(t, data, extra...)
}

// (s) the original go-socket client against our legacy sync server.
func TestGoSocketClientAgainstOurServer(t *testing.T) {
	srv := serverWithVectorDay(t)
	g := newGoClient(t, srv.syncAddr, nil) // default SendFlag; Connect sends 7 itself

	t.Run("hello_7_8", func(t *testing.T) {
		for round := 0; round < 2; round++ {
			if round == 1 {
				if err := g.c.SendMsg(socket_v1.UDataSocket{Zlib: 0, CType: 7, Content: []byte("hello test msg from client")}); err != nil {
					t.Fatal(err)
				}
			}
			m, ok := g.next(t, 5*time.Second)
			if !ok {
				t.FailNow()
			}
			if m.CType != 8 || string(m.Content) != helloServer || m.Zlib != 0 {
				t.Errorf("reply to 7 = zlib %d ctype %d %q, want zlib 0 ctype 8 %q", m.Zlib, m.CType, m.Content, helloServer)
			}
		}
	})
	want := vectorRecords(t, "2026-11-21")
	t.Run("day_2026-11-21_from_0", func(t *testing.T) {
		got, batches := readDay(t, g, "2026-11-21", 0)
		compareURecs(t, "302 records", want, got)
		t.Logf("%d records in %d batch(es)", len(got), batches)
	})
	t.Run("day_2026-11-21_from_15", func(t *testing.T) {
		got, _ := readDay(t, g, "2026-11-21", 15)
		compareURecs(t, "302 records from id 15", want[15:], got)
	})
	t.Run("heartbeat_then_hello", func(t *testing.T) {
		// an empty heartbeat (ctype 1) must be accepted silently
		if err := g.c.SendMsg(socket_v1.UDataSocket{CType: 1}); err != nil {
			t.Fatal(err)
		}
		if err := g.c.SendMsg(socket_v1.UDataSocket{Zlib: 0, CType: 7, Content: []byte("hello test msg from client")}); err != nil {
			t.Fatal(err)
		}
		m, ok := g.next(t, 5*time.Second)
		if ok && (m.CType != 8 || string(m.Content) != helloServer) {
			t.Errorf("after heartbeat: ctype %d %q", m.CType, m.Content)
		}
	})
}

// (s) a client with a wrong SendFlag is dropped; the server keeps serving others.
func TestGoSocketWrongSendFlagDropped(t *testing.T) {
	srv := serverWithVectorDay(t)
	bad := 12345
	g := newGoClient(t, srv.syncAddr, &bad)
	select {
	case <-g.disc:
	case <-time.After(5 * time.Second):
		t.Errorf("client with SendFlag %d was not dropped within 5 s", bad)
	}
	select {
	case m := <-g.msgs:
		t.Errorf("client with wrong SendFlag got ctype %d %q", m.CType, m.Content)
	default:
	}
	good := newGoClient(t, srv.syncAddr, nil)
	if m, ok := good.next(t, 5*time.Second); ok && (m.CType != 8 || string(m.Content) != helloServer) {
		t.Errorf("good client after a bad one: ctype %d %q", m.CType, m.Content)
	}
	// our server with a custom flag talks to a go-socket client with the same flag
	srv2 := serverWithVectorDay(t, "--send-flag", "123456")
	flag := 123456
	g2 := newGoClient(t, srv2.syncAddr, &flag)
	if m, ok := g2.next(t, 5*time.Second); ok && (m.CType != 8 || string(m.Content) != helloServer) {
		t.Errorf("custom flag: ctype %d %q", m.CType, m.Content)
	}
	g3 := newGoClient(t, srv2.syncAddr, nil) // default flag vs 123456
	select {
	case <-g3.disc:
	case <-time.After(5 * time.Second):
		t.Errorf("default-flag client was not dropped by a --send-flag 123456 server")
	}
}

// (s) our sync client against a Go server built on socket_v1.NewServer.
func TestOurSyncClientAgainstGoSocketServer(t *testing.T) {
	const day = "2026-11-21"
	td := today()
	if td <= day {
		t.Skipf("today %s is not after %s", td, day)
	}
	recs := vectorRecords(t, day)
	const batch = 8 // <= 500; several batches for 20 records

	type request struct {
		Date string `json:"date"`
		ID   int64  `json:"id"`
	}
	reqs := make(chan request, 100)
	errs := make(chan string, 100)
	var srv *socket_v1.Server
	port := freePort(t)
	srv = socket_v1.NewServer("127.0.0.1", port, func(ev socket_v1.HookEvent) {
		if ev.EventType != "message" || ev.Message.CType != 301 {
			return
		}
		var r request
		if err := json.Unmarshal(ev.Message.Content, &r); err != nil {
			errs <- fmt.Sprintf("bad 301 body %q: %v", ev.Message.Content, err)
			return
		}
		if ev.Message.Zlib != 0 {
			errs <- fmt.Sprintf("301 with Zlib %d", ev.Message.Zlib)
		}
		reqs <- r
		id := ev.User.ClientId
		switch {
		case r.Date == day:
			for i := r.ID; i < int64(len(recs)); i += batch {
				j := i + batch
				if j > int64(len(recs)) {
					j = int64(len(recs))
				}
				if err := srv.SendMsg(&id, socket_v1.UDataSocket{Zlib: 1, CType: 302, Content: encodeUData(recs[i:j])}); err != nil {
					errs <- "send 302: " + err.Error()
					return
				}
			}
			_ = srv.SendMsg(&id, socket_v1.UDataSocket{Zlib: 1, CType: 304, Content: []byte(day)})
		case r.Date > day && r.Date < today():
			_ = srv.SendMsg(&id, socket_v1.UDataSocket{Zlib: 1, CType: 304, Content: []byte(r.Date)})
		case r.Date == today():
			// today: nothing yet
		default:
			errs <- "301 for unexpected date " + r.Date
		}
	})
	_ = srv
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second, nil)

	d0, _ := time.ParseInLocation("2006-01-02", day, time.Local)
	d1, _ := time.ParseInLocation("2006-01-02", td, time.Local)
	history := -int(d1.Sub(d0).Hours()/24 + 0.5)
	replica := filepath.Join(t.TempDir(), "replica")
	cl := startProc(t, "modsynclog-client sync", clientBin, "sync", "--server", fmt.Sprintf("127.0.0.1:%d", port),
		"--dir", replica, "--protocol", "legacy", "--history-days", strconv.Itoa(history))

	vdir := filepath.Join(vectorsDir, "store", "20261121")
	want := map[string][]byte{}
	for _, f := range []string{"index", "data000000", "finish"} {
		b, err := os.ReadFile(filepath.Join(vdir, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = b
	}
	var got []request
	sawToday := false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !sawToday {
		select {
		case r := <-reqs:
			got = append(got, r)
			if r.Date == td {
				sawToday = true
			}
		case e := <-errs:
			t.Errorf("go server: %s", e)
		case <-time.After(200 * time.Millisecond):
		}
		if cl.exited() {
			t.Fatalf("sync client exited: %v", cl.err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the last write land
	if err := cl.stop(t, 10*time.Second); err != nil {
		t.Logf("sync client stop: %v", err)
	}
	if !sawToday {
		t.Errorf("the client never asked for today (%s); requests: %+v", td, got)
	}
	if len(got) == 0 || got[0] != (request{day, 0}) {
		t.Errorf("first 301 = %+v, want {%s 0}", got, day)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Date != addDays(got[i-1].Date, 1) || got[i].ID != 0 {
			t.Errorf("301 #%d = %+v after %+v", i, got[i], got[i-1])
		}
	}
	gotFiles := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(replica, "20261121"))
	if err != nil {
		t.Fatalf("replica day folder: %v", err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(replica, "20261121", e.Name()))
		gotFiles[e.Name()] = b
	}
	compareTrees(t, "replica 20261121 vs vectors/store/20261121", want, gotFiles)
	// intermediate past days got a finish file after their 304
	for d := addDays(day, 1); d < td; d = addDays(d, 1) {
		if _, err := os.Stat(filepath.Join(replica, folderOf(d), "finish")); err != nil {
			t.Errorf("past day %s: no finish after 304: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(replica, folderOf(td), "finish")); err == nil {
		t.Errorf("today %s got a finish file", td)
	}
	t.Logf("301 requests: %+v", got)
}
