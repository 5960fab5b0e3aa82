package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "modsynclog/interop/grpc_proto_log"
	"modsynclog/interop/origreplica"
	"modsynclog/interop/origsdk"
)

// sdkRec is one record sent the original SDK's way, as it must be stored.
type sdkRec struct {
	caller int // -1: sequential part
	seq    int
	typ    int16
	data   []byte
}

// sdkSet holds one original-SDK handle per kind (as an application using the three
// SDK constructors has), shared by every caller.
type sdkSet struct {
	h [3]*origsdk.Handle
}

func newSDKSet(t *testing.T, addr string) *sdkSet {
	t.Helper()
	s := &sdkSet{}
	for k := origsdk.DbLog; k <= origsdk.JsonLog; k++ {
		h, err := origsdk.New(k, addr)
		if err != nil {
			t.Fatalf("grpc.Dial %s: %v", addr, err)
		}
		s.h[k] = h
		t.Cleanup(func() { _ = h.Close() })
	}
	return s
}

// payloadFor builds record seq of caller the way the original SDK's three Add
// functions do: protobuf DbLogData / AppLogData bytes, or JSON. big > 0 makes it about
// that many bytes; empty makes an empty DbLogData (0 bytes on the wire and on disk).
func payloadFor(kind origsdk.Kind, caller, seq, big int, empty bool) ([]byte, error) {
	tag := fmt.Sprintf("c%d-s%d", caller, seq)
	switch kind {
	case origsdk.DbLog:
		if empty {
			return []byte{}, nil
		}
		d := &pb.DbLogData{
			DbInstance: "inst-" + tag, Type: "update", Database: "shop", Table: "orders 订单",
			Ts: fmt.Sprint(1795190400 + seq), Position: "mysql-bin.000042:" + fmt.Sprint(seq*97),
			Xid: int64(seq) * 1_000_003, Commit: seq%2 == 0,
			Data: map[string]string{"id": fmt.Sprint(seq), "caller": fmt.Sprint(caller)},
			Sql:  strings.Repeat("x", seq%7*50),
		}
		if big > 0 {
			d.Sql = strings.Repeat("INSERT INTO t VALUES (1,'大');", big/32)
		}
		return marshalDet(d)
	case origsdk.AppLog:
		d := &pb.AppLogData{
			Env: "prod", Sys: "orders", Level: []string{"info", "warning", "error"}[seq%3],
			File: "svc/handler.go", Func: "Handle()", Time: "2026-11-29 12:00:00", TimeInt64: int64(seq) << 32,
			Message: "message " + tag + " ✓ " + strings.Repeat("ab", seq%11*20),
			Data:    map[string]string{"k": tag},
		}
		if big > 0 {
			d.Message = strings.Repeat("m", big)
		}
		return marshalDet(d)
	default:
		m := map[string]interface{}{"tag": tag, "seq": seq, "msg": "json 中文 \"quoted\" <b>", "pad": strings.Repeat("p", seq%13*10)}
		if big > 0 {
			m["pad"] = strings.Repeat("j", big)
		}
		return jsonMarshal(m)
	}
}

// send sends one record with the handle of kind and checks the reply; it returns the
// record as the store must hold it.
func (s *sdkSet) send(kind origsdk.Kind, caller, seq int, data []byte) (sdkRec, error) {
	rep, err := s.h[kind].WriteRaw(data)
	if err != nil {
		return sdkRec{}, fmt.Errorf("%v caller %d seq %d (%d bytes): %v", kind, caller, seq, len(data), err)
	}
	if rep.ErrCode != 0 || rep.ErrMessage != "ok" || rep.Data != "" {
		return sdkRec{}, fmt.Errorf("%v caller %d seq %d: reply errCode %d errMessage %q data %q, want 0 \"ok\" \"\"", kind, caller, seq, rep.ErrCode, rep.ErrMessage, rep.Data)
	}
	return sdkRec{caller: caller, seq: seq, typ: int16(kind.DataType()), data: data}, nil
}

// sendSDKRecords sends n records sequentially (caller -1) with the kinds in turn.
func sendSDKRecords(t *testing.T, s *sdkSet, n, firstSeq int, bigAt map[int]int) []sdkRec {
	t.Helper()
	var out []sdkRec
	for i := 0; i < n; i++ {
		seq := firstSeq + i
		kind := origsdk.Kind(seq % 3)
		data, err := payloadFor(kind, -1, seq, bigAt[i], kind == origsdk.DbLog && seq%10 == 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.send(kind, -1, seq, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// storeRecords reads every record of every day of root with the original go-filelog.
func storeRecords(t *testing.T, root string) []rec {
	t.Helper()
	var all []rec
	for _, d := range dayFolders(t, root) {
		r, _, _, err := goReadDay(root, d)
		if err != nil {
			t.Fatalf("go-filelog: %v", err)
		}
		all = append(all, r...)
	}
	return all
}

// (a) The original SDK's pattern against our server: one long-lived grpc.ClientConn per
// kind, one unary DbLogWrite/AppLogWrite/JsonLogWrite per record with
// context.Background(), first from one goroutine, then from 8 sharing the handles.
func TestOriginalSDKPattern(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startOurServer(t, data)
	s := newSDKSet(t, srv.grpcAddr)
	t0 := time.Now().Unix()

	// sequential: 45 records, the three kinds in turn, empty DbLogData records, a 1.5 MB
	// DbLogData, a 3 MiB AppLogData (under the 4 MiB gRPC default of the original)
	seqRecs := sendSDKRecords(t, s, 45, 0, map[int]int{7: 1_500_000, 20: 3 << 20})

	// 8 goroutines x 30 records on the same three connections
	const callers, perCaller = 8, 30
	var mu sync.Mutex
	conc := map[int][]sdkRec{}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perCaller; i++ {
				kind := origsdk.Kind((c + i) % 3)
				big := 0
				if i == 5 && c%4 == 0 {
					big = 200_000 + c*1000
				}
				d, err := payloadFor(kind, c, i, big, false)
				if err == nil {
					var r sdkRec
					if r, err = s.send(kind, c, i, d); err == nil {
						mu.Lock()
						conc[c] = append(conc[c], r)
						mu.Unlock()
						continue
					}
				}
				errs <- err
				return
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t1 := time.Now().Unix()
	if err := srv.p.stop(t, 15*time.Second); err != nil {
		t.Errorf("server stop (SIGTERM): %v", err)
	}

	got := storeRecords(t, data)
	total := len(seqRecs) + callers*perCaller
	if len(got) != total {
		t.Fatalf("store holds %d records, sent %d", len(got), total)
	}
	var bytesSent, bytesGot int64
	for _, r := range got {
		bytesGot += int64(len(r.Data))
		if int64(r.Time) < t0-1 || int64(r.Time) > t1+1 {
			t.Errorf("record %s #%d: time %d outside [%d,%d]", r.Date, r.ID, r.Time, t0, t1)
		}
		if r.Date != time.Unix(int64(r.Time), 0).Format("2006-01-02") {
			t.Errorf("record %s #%d: its time %d is another local day", r.Date, r.ID, r.Time)
		}
	}
	// the sequential part in order, type and bytes
	for i, w := range seqRecs {
		bytesSent += int64(len(w.data))
		if g := got[i]; g.Type != w.typ || !bytes.Equal(g.Data, w.data) {
			t.Errorf("sequential record %d: stored %v, sent type %d, %d bytes", i, g, w.typ, len(w.data))
		}
	}
	// the concurrent part: the same records, and each caller's in its own order
	owner := map[string][2]int{}
	for c, rs := range conc {
		for i, r := range rs {
			bytesSent += int64(len(r.data))
			owner[fmt.Sprintf("%d|%s", r.typ, r.data)] = [2]int{c, i}
		}
	}
	next := make([]int, callers)
	for _, g := range got[len(seqRecs):] {
		o, ok := owner[fmt.Sprintf("%d|%s", g.Type, g.Data)]
		if !ok {
			t.Errorf("stored record %v was not sent by the 8 callers (or twice)", g)
			continue
		}
		delete(owner, fmt.Sprintf("%d|%s", g.Type, g.Data))
		if o[1] != next[o[0]] {
			t.Errorf("caller %d: record %d stored where %d was due (a caller's records must keep its order)", o[0], o[1], next[o[0]])
		}
		next[o[0]] = o[1] + 1
	}
	if len(owner) != 0 {
		t.Errorf("%d records of the 8 callers are missing from the store", len(owner))
	}
	if bytesGot != bytesSent {
		t.Errorf("payload bytes: store %d, sent %d", bytesGot, bytesSent)
	}
	// our reader agrees with go-filelog
	compareRecs(t, "modsynclog-client read vs go-filelog", got, readOurs(t, data))
	t.Logf("%d records (%d payload bytes) from 1 then %d callers on 3 long-lived connections, all errCode 0 \"ok\"", total, bytesSent, callers)
}

// (b) The original replica's pattern (go-socket client + go-filelog Add) catching up a
// store our server holds: two past days written by go-filelog (one finished, one that our
// server finishes at start), today written through the original SDK; the replica walks
// the days on 304s (finish files), is stopped and resumed from its local counts, follows
// today live, and its folder ends byte-identical to the master's.
func TestOriginalReplicaPattern(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	replica := filepath.Join(tmp, "replica")
	td := today()
	d2, d1 := addDays(td, -2), addDays(td, -1)
	genGoStore(t, data, []string{d2, d1}, []int{1234, 700}, []bool{true, false})

	srv := startOurServer(t, data)
	s := newSDKSet(t, srv.grpcAddr)
	sent := sendSDKRecords(t, s, 40, 0, map[int]int{3: 600_000})

	opts := origreplica.Options{HistoryDays: -2, RetainDays: -2, ReconnectDelay: time.Second, Logf: t.Logf}
	start := func() *origreplica.Replica {
		r, err := origreplica.Start(srv.syncAddr, replica, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	wait := func(r *origreplica.Replica, what string, cond func(origreplica.Stats) bool) origreplica.Stats {
		t.Helper()
		st, ok := r.Wait(30*time.Second, func(st origreplica.Stats) bool { return len(st.Errors) > 0 || cond(st) })
		if len(st.Errors) > 0 {
			t.Fatalf("replica errors: %q", st.Errors)
		}
		if !ok {
			if today() != td {
				t.Skip("the date changed during the test")
			}
			t.Fatalf("replica: %s not reached in 30 s: %+v", what, st)
		}
		return st
	}
	finishedBoth := func(st origreplica.Stats) bool {
		return len(st.Finished) == 2 && st.Finished[0] == d2 && st.Finished[1] == d1
	}

	// 1. from nothing: d2 (1234 records, 3+ batches), 304, finish; d1, 304, finish; today
	r1 := start()
	st := wait(r1, "two past days finished and today's 40 records", func(st origreplica.Stats) bool {
		return finishedBoth(st) && st.Counts[td] == int64(len(sent))
	})
	wantReq := []origreplica.Request{{Date: d2}, {Date: d1}, {Date: td}}
	if fmt.Sprint(st.Requests) != fmt.Sprint(wantReq) {
		t.Errorf("first replica's 301s = %+v, want %+v", st.Requests, wantReq)
	}
	if st.Records != 1234+700+int64(len(sent)) {
		t.Errorf("first replica appended %d records, want %d", st.Records, 1234+700+len(sent))
	}
	r1.Close()

	// 2. stopped; more records; a new replica on the same folder resumes from its counts
	sent = append(sent, sendSDKRecords(t, s, 25, 40, map[int]int{10: 1_200_000})...)
	r2 := start()
	st = wait(r2, "today's 65 records after resuming", func(st origreplica.Stats) bool {
		return finishedBoth(st) && st.Counts[td] == int64(len(sent))
	})
	wantReq = []origreplica.Request{{Date: d2, ID: 1234}, {Date: d1, ID: 700}, {Date: td, ID: 40}}
	if fmt.Sprint(st.Requests) != fmt.Sprint(wantReq) {
		t.Errorf("resumed replica's 301s = %+v, want %+v", st.Requests, wantReq)
	}

	// 3. live: records committed while it is connected arrive too
	sent = append(sent, sendSDKRecords(t, s, 10, 65, nil)...)
	st = wait(r2, "today's 75 records live", func(st origreplica.Stats) bool { return st.Counts[td] == int64(len(sent)) })
	r2.Close()
	if err := srv.p.stop(t, 15*time.Second); err != nil {
		t.Errorf("server stop (SIGTERM): %v", err)
	}
	if today() != td {
		t.Skip("the date changed during the test")
	}
	if st.Disconnects > 0 || st.ConnectFails > 0 {
		t.Logf("resumed replica: %d drops, %d failed connects (go-socket reads a header with one read())", st.Disconnects, st.ConnectFails)
	}

	// every file of every day folder, byte for byte
	if a, b := strings.Join(dayFolders(t, data), ","), strings.Join(dayFolders(t, replica), ","); a != b {
		t.Errorf("day folders: master %s, replica %s", a, b)
	}
	master, copied := map[string][]byte{}, map[string][]byte{}
	for _, d := range dayFolders(t, data) {
		for k, v := range treeFiles(t, filepath.Join(data, folderOf(d))) {
			master[folderOf(d)+"/"+k] = v
		}
		for k, v := range treeFiles(t, filepath.Join(replica, folderOf(d))) {
			copied[folderOf(d)+"/"+k] = v
		}
	}
	compareTrees(t, "replica vs master", master, copied)
	for _, d := range []string{d2, d1} {
		if _, ok := copied[folderOf(d)+"/finish"]; !ok {
			t.Errorf("replica: %s has no finish file", d)
		}
	}
	if _, ok := copied[folderOf(td)+"/finish"]; ok {
		t.Errorf("replica: today %s has a finish file", td)
	}
	// today's records are the SDK's, in order
	recs, _, _, err := goReadDay(replica, td)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs) && i < len(sent); i++ {
		if recs[i].Type != sent[i].typ || !bytes.Equal(recs[i].Data, sent[i].data) {
			t.Errorf("replica today #%d = %v, sent type %d, %d bytes", i, recs[i], sent[i].typ, len(sent[i].data))
			break
		}
	}
	if !t.Failed() {
		var names []string
		for k := range master {
			if !strings.HasSuffix(k, "/") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		t.Logf("replica equals master: %d files %v", len(names), names)
	}
}

// marshalDet is proto.Marshal with a fixed map order (the bytes sent are what is compared).
func marshalDet(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func jsonMarshal(v interface{}) ([]byte, error) { return json.Marshal(v) }
