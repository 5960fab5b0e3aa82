package modsynclog_v1

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
	"modsynclog.dev/go/modsynclog_v1/grpc_proto_log"
)

func readAll(t *testing.T, dir string) []modsynclog.Record {
	t.Helper()
	r, err := modsynclog.OpenReader(dir, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []modsynclog.Record
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// reset puts the package back as a program finds it.
func reset(t *testing.T) {
	t.Cleanup(func() {
		_ = Close()
		Configure(Config{})
	})
}

func dbLog() *grpc_proto_log.DbLogData {
	return &grpc_proto_log.DbLogData{
		DbInstance: "dblog", Type: "insert", Database: "test", Table: "haha", Ts: "1234",
		Position: "mysql-bin.000003:4711", Xid: 1, Commit: true, Sql: "",
		Data: map[string]string{"id": "2", "name": "张三", "b": "", "a": "x"},
	}
}

func appLog() *grpc_proto_log.AppLogData {
	return &grpc_proto_log.AppLogData{
		Env: "dev", Sys: "haha", Level: "info", File: "abc.go", Func: "haha()", Time: "2022-01-01 12:12:12",
		TimeInt64: 1640995932000000000, Message: "hahaha", Data: map[string]string{"techerId": "500"},
	}
}

func TestOriginalCallsStoreTheOriginalTypesAndBytes(t *testing.T) {
	reset(t)
	srv := testserver.Start(t)
	// the calls of the original SDK's example, unchanged
	handleDbLog := NewSdkDbLog(srv.Addr)
	if err := handleDbLog.SdkDbLogAddGRpc(dbLog()); err != nil {
		t.Fatal(err)
	}
	handleAppLog := NewSdkAppLog(srv.Addr)
	if err := handleAppLog.SdkAppLogAddGRpc(appLog()); err != nil {
		t.Fatal(err)
	}
	handleLog := NewSdkJsonLog(srv.Addr)
	D := map[string]interface{}{"wawa": "haha", "html": "<a href=\"x\">&</a>", "n": 1.5, "list": []int{3, 1, 2}, "nil": nil}
	if err := handleLog.SdkJsonLogAddGRpc(D); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name string `json:"name"`
		Age  int    `json:"age,omitempty"`
	}
	if err := handleLog.SdkJsonLogAddGRpc(row{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(started()); n != 1 {
		t.Fatalf("%d producers for one address, want 1 shared by the handles", n)
	}

	recs := readAll(t, srv.Dir)
	if len(recs) != 4 {
		t.Fatalf("stored %d records, want 4", len(recs))
	}
	for i, want := range []int16{1001, 1101, 1201, 1201} {
		if recs[i].Type != want {
			t.Fatalf("record %d: type %d, want %d", i, recs[i].Type, want)
		}
	}
	var db grpc_proto_log.DbLogData
	if err := proto.Unmarshal(recs[0].Data, &db); err != nil || !proto.Equal(&db, dbLog()) {
		t.Fatalf("DbLogData: %v, %v", &db, err)
	}
	var app grpc_proto_log.AppLogData
	if err := proto.Unmarshal(recs[1].Data, &app); err != nil || !proto.Equal(&app, appLog()) {
		t.Fatalf("AppLogData: %v, %v", &app, err)
	}
	wantJSON, _ := json.Marshal(D)
	if !bytes.Equal(recs[2].Data, wantJSON) {
		t.Fatalf("JSON record %s, want %s", recs[2].Data, wantJSON)
	}
	// what the original's json_v1.JsonEncode (jsoniter, compatible with encoding/json)
	// gives: keys sorted, HTML escaped, no spaces
	const literal = `{"html":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e","list":[3,1,2],"n":1.5,"nil":null,"wawa":"haha"}`
	if string(recs[2].Data) != literal {
		t.Fatalf("JSON record %s, want %s", recs[2].Data, literal)
	}
	if string(recs[3].Data) != `{"name":"x"}` {
		t.Fatalf("JSON of a struct: %s", recs[3].Data)
	}
}

// The generated types have the field numbers and wire types of SPEC.md section 3.
func TestPayloadFieldNumbersFollowTheSpec(t *testing.T) {
	str := func(b []byte, num protowire.Number, s string) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	entry := func(b []byte, num protowire.Number, k, v string) []byte {
		e := str(str(nil, 1, k), 2, v)
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, e)
	}
	var db []byte
	db = str(db, 1, "i")
	db = str(db, 2, "insert")
	db = str(db, 3, "d")
	db = str(db, 4, "t")
	db = str(db, 5, "ts")
	db = str(db, 6, "pos")
	db = varint(db, 7, 42)
	db = varint(db, 8, 1)
	db = entry(db, 9, "k", "v")
	db = str(db, 10, "select 1")
	got, err := marshal(&grpc_proto_log.DbLogData{
		DbInstance: "i", Type: "insert", Database: "d", Table: "t", Ts: "ts", Position: "pos",
		Xid: 42, Commit: true, Data: map[string]string{"k": "v"}, Sql: "select 1",
	})
	if err != nil || !bytes.Equal(got, db) {
		t.Fatalf("DbLogData bytes %x, want %x (%v)", got, db, err)
	}

	var app []byte
	app = str(app, 1, "env")
	app = str(app, 2, "sys")
	app = str(app, 3, "error")
	app = str(app, 4, "f.go")
	app = str(app, 5, "fn")
	app = str(app, 6, "2022-01-01 12:12:12")
	app = varint(app, 7, 7)
	app = str(app, 8, "msg")
	app = entry(app, 9, "k", "v")
	got, err = marshal(&grpc_proto_log.AppLogData{
		Env: "env", Sys: "sys", Level: "error", File: "f.go", Func: "fn", Time: "2022-01-01 12:12:12",
		TimeInt64: 7, Message: "msg", Data: map[string]string{"k": "v"},
	})
	if err != nil || !bytes.Equal(got, app) {
		t.Fatalf("AppLogData bytes %x, want %x (%v)", got, app, err)
	}

	// map entries in key order, the same bytes every time
	m := map[string]string{}
	var sorted []byte
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		m[k] = k + k
		sorted = entry(sorted, 9, k, k+k)
	}
	for i := 0; i < 20; i++ {
		got, err := marshal(&grpc_proto_log.AppLogData{Data: m})
		if err != nil || !bytes.Equal(got, sorted) {
			t.Fatalf("map bytes %x, want %x (%v)", got, sorted, err)
		}
	}
}

func TestWaitAckMakesEachCallWaitForTheServer(t *testing.T) {
	reset(t)
	srv := testserver.Start(t)
	Configure(Config{WaitAck: true})
	h := NewSdkAppLog(srv.Addr)
	for i := 0; i < 3; i++ {
		if err := h.SdkAppLogAddGRpc(appLog()); err != nil {
			t.Fatal(err)
		}
		// no Flush: the record is on the server when the call returns
		if n := len(readAll(t, srv.Dir)); n != i+1 {
			t.Fatalf("after call %d the store holds %d records", i+1, n)
		}
	}
}

func TestLegacyOptionUsesTheLegacyService(t *testing.T) {
	reset(t)
	// The legacy service has no credentials: with an ingest token on the native one (and
	// the legacy service allowed), a record that arrives proves the producer spoke the
	// legacy protocol.
	srv := testserver.Start(t, "--ingest-token", "secret", "--allow-legacy")
	Configure(Config{Options: modsynclog.Options{Legacy: true}})
	if err := NewSdkDbLog(srv.Addr).SdkDbLogAddGRpc(dbLog()); err != nil {
		t.Fatal(err)
	}
	if err := FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, srv.Dir)
	if len(recs) != 1 || recs[0].Type != 1001 {
		t.Fatalf("stored %+v", recs)
	}
}

func TestErrors(t *testing.T) {
	reset(t)
	srv := testserver.Start(t)

	// an address the producer cannot use: every call says so
	bad := NewSdkDbLog("")
	for i := 0; i < 2; i++ {
		if err := bad.SdkDbLogAddGRpc(dbLog()); !errors.Is(err, modsynclog.ErrInvalidArgument) {
			t.Fatalf("add with no address: %v, want InvalidArgument", err)
		}
	}

	// a value encoding/json cannot marshal is an error, and nothing is sent
	h := NewSdkJsonLog(srv.Addr)
	if err := h.SdkJsonLogAddGRpc(map[string]interface{}{"c": make(chan int)}); err == nil {
		t.Fatal("a channel was marshalled")
	}
	// invalid UTF-8 in a proto3 string cannot be marshalled either
	if err := NewSdkAppLog(srv.Addr).SdkAppLogAddGRpc(&grpc_proto_log.AppLogData{Message: "\xff"}); err == nil {
		t.Fatal("invalid UTF-8 was marshalled")
	}
	if err := h.SdkJsonLogAddGRpc("ok"); err != nil {
		t.Fatal(err)
	}
	if err := Close(); err != nil {
		t.Fatal(err)
	}
	// handles made before Close are closed; new ones start a new producer
	if err := h.SdkJsonLogAddGRpc("late"); !errors.Is(err, modsynclog.ErrClosed) {
		t.Fatalf("add after Close: %v, want ErrClosed", err)
	}
	if err := NewSdkJsonLog(srv.Addr).SdkJsonLogAddGRpc("again"); err != nil {
		t.Fatal(err)
	}
	if err := FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, srv.Dir)
	if len(recs) != 2 || string(recs[0].Data) != `"ok"` || string(recs[1].Data) != `"again"` {
		t.Fatalf("stored %+v", recs)
	}

	// Flush reports a stopped server (after its own timeout, here a short one)
	srv.Stop()
	Configure(Config{WaitAck: false})
	if err := NewSdkJsonLog(srv.Addr).SdkJsonLogAddGRpc("lost"); err != nil {
		t.Fatalf("add only queues: %v", err)
	}
	for _, p := range started() {
		if err := p.FlushTimeout(200 * time.Millisecond); !errors.Is(err, modsynclog.ErrTimeout) {
			t.Fatalf("flush to a stopped server: %v, want ErrTimeout", err)
		}
		_ = p.CloseTimeout(0) // do not wait for it at the end of the test
	}
}
