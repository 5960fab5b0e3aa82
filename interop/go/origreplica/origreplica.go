// Package origreplica is a replica that works the way the original go-modsynclog client
// does, built on the real go-socket client (socket_v1) and go-filelog (filelog_v1):
//
//   - go-socket connects and sends the 7 hello itself, heartbeats (ctype 1) every 5 s;
//   - on connect: the requested day is today + HistoryDays, opened with filelog_v1.New,
//     its id is GetAutoId() (the local record count); retention runs; then one 301
//     {"date":..., "id":...} (zlib 0);
//   - on 302: every record must carry the requested date, the next local id and a payload
//     of its announced length; it is appended with filelog Add(time, type, data), so both
//     folders end byte-identical; any mismatch drops the connection;
//   - on 304 (the body is not looked at): when the requested day is before today by the
//     replica's clock, that day gets its finish file (SetFinish) and is closed, the next
//     day is opened and asked for with a 301 from its GetAutoId(); a 304 for today is
//     ignored; retention runs after every 304;
//   - on a drop or a failed connect: every day handle is closed and it reconnects after
//     ReconnectDelay (the original: 5 s), starting again from today + HistoryDays.
//
// Written from the behaviour recorded in SPEC.md section 5; no code of the original is
// copied. Differences, all in what a test can observe rather than in the bytes written:
// a malformed 302 is a recorded error and a drop (the original's decoder panics or
// ignores trailing bytes), the first mismatch in a batch stops that batch (the original
// goes on writing after asking for the drop), and Close stops reconnecting.
package origreplica

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loudbund/go-filelog/filelog_v1"
	"github.com/loudbund/go-socket/socket_v1"
)

// Options are the original ClientOptions plus test knobs.
type Options struct {
	HistoryDays    int           // first day to ask for: today + HistoryDays (<= 0)
	RetainDays     int           // keep today + RetainDays onwards (<= -1 and <= HistoryDays)
	SendFlag       int           // go-socket send flag; 0 keeps go-socket's default 398359203
	ReconnectDelay time.Duration // default 5 s, as the original
	Now            func() time.Time
	Logf           func(format string, args ...interface{})
}

// Stats is what the replica did so far.
type Stats struct {
	Connects     int
	ConnectFails int
	Disconnects  int
	Requests     []Request // every 301 sent, in order
	Batches      int       // 302 frames
	Records      int64     // records appended
	Bytes        int64     // payload bytes appended
	Finished     []string  // days given a finish file after a 304, in order
	Ignored304   int       // 304s received for today (ignored)
	Errors       []string  // protocol violations (each dropped the connection)
	ReqDate      string    // the day asked for last
	Counts       map[string]int64
}

// Request is one 301.
type Request struct {
	Date string `json:"date"`
	ID   int64  `json:"id"`
}

// Replica is one running replica.
type Replica struct {
	folder string
	opt    Options
	sock   *socket_v1.Client

	mu      sync.Mutex
	changed *sync.Cond
	closed  bool
	live    bool // a reader goroutine is running (between connect and disconnect)
	stats   Stats

	reqDate   string
	reqDateID int64
	handles   map[string]*filelog_v1.CFileLog
}

// Start makes the replica and connects in the background, like the original NewClient.
func Start(addr string, folder string, opt Options) (*Replica, error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, err
	}
	// the original's clamping of its options
	if opt.HistoryDays > 0 {
		opt.HistoryDays = 0
	}
	if opt.RetainDays > -1 {
		opt.RetainDays = -1
	}
	if opt.RetainDays > opt.HistoryDays {
		opt.RetainDays = opt.HistoryDays
	}
	if opt.ReconnectDelay <= 0 {
		opt.ReconnectDelay = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...interface{}) {}
	}
	r := &Replica{folder: folder, opt: opt, handles: map[string]*filelog_v1.CFileLog{}}
	r.changed = sync.NewCond(&r.mu)
	r.stats.Counts = map[string]int64{}
	r.sock = socket_v1.NewClient(host, port, r.onMessage, r.onConnectFail, r.onConnect, r.onDisconnect)
	if opt.SendFlag > 0 {
		r.sock.Set("SendFlag", opt.SendFlag)
	}
	go r.sock.Connect()
	return r, nil
}

func (r *Replica) today() string { return r.opt.Now().Format("2006-01-02") }

func addDays(date string, n int) string {
	d, err := time.ParseInLocation("2006-01-02", date, time.Local)
	if err != nil {
		return date
	}
	return d.AddDate(0, 0, n).Format("2006-01-02")
}

// handle opens (go-filelog creates the folder and index) or returns the day's handle.
func (r *Replica) handle(date string) *filelog_v1.CFileLog {
	h, ok := r.handles[date]
	if !ok {
		h = filelog_v1.New(r.folder, date)
		r.handles[date] = h
	}
	return h
}

func (r *Replica) send301(c *socket_v1.Client) {
	req := Request{Date: r.reqDate, ID: r.reqDateID}
	body, _ := json.Marshal(map[string]interface{}{"date": req.Date, "id": req.ID})
	r.stats.Requests = append(r.stats.Requests, req)
	r.stats.ReqDate = req.Date
	if err := c.SendMsg(socket_v1.UDataSocket{Zlib: 0, CType: 301, Content: body}); err != nil {
		r.opt.Logf("origreplica: send 301: %v", err)
	}
}

func (r *Replica) onConnect(c *socket_v1.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.changed.Broadcast()
	r.live = true
	r.stats.Connects++
	if r.closed {
		dropConn(c)
		return
	}
	r.reqDate = addDays(r.today(), r.opt.HistoryDays)
	if _, ok := r.handles[r.reqDate]; !ok {
		h := r.handle(r.reqDate)
		id, err := h.GetAutoId()
		if err != nil {
			r.fail(c, fmt.Sprintf("GetAutoId(%s): %v", r.reqDate, err))
			return
		}
		r.reqDateID = id
	}
	r.retention()
	r.send301(c)
}

func (r *Replica) onMessage(msg socket_v1.UDataSocket, c *socket_v1.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.changed.Broadcast()
	switch msg.CType {
	case 304:
		if r.reqDate < r.today() {
			old := r.reqDate
			r.reqDate = addDays(old, 1)
			h := r.handle(old)
			h.SetFinish()
			h.Close()
			delete(r.handles, old)
			r.stats.Finished = append(r.stats.Finished, old)
			if _, ok := r.handles[r.reqDate]; !ok {
				nh := r.handle(r.reqDate)
				id, err := nh.GetAutoId()
				if err != nil {
					r.fail(c, fmt.Sprintf("GetAutoId(%s): %v", r.reqDate, err))
					return
				}
				r.reqDateID = id
			}
			r.send301(c)
		} else {
			r.stats.Ignored304++
		}
		r.retention()
	case 302:
		r.stats.Batches++
		recs, err := decodeBatch(msg.Content)
		if err != nil {
			r.fail(c, fmt.Sprintf("302 batch of %d bytes: %v", len(msg.Content), err))
			return
		}
		for _, d := range recs {
			if d.Date != r.reqDate {
				r.fail(c, fmt.Sprintf("record %s #%d: date differs from the requested %s", d.Date, d.Id, r.reqDate))
				return
			}
			h := r.handle(d.Date)
			if d.Id != h.AutoId {
				r.fail(c, fmt.Sprintf("record %s #%d: the next local id is %d", d.Date, d.Id, h.AutoId))
				return
			}
			if len(d.Data) != int(d.DataLength) {
				r.fail(c, fmt.Sprintf("record %s #%d: %d payload bytes, length field %d", d.Date, d.Id, len(d.Data), d.DataLength))
				return
			}
			if _, err := h.Add(d.Time, d.DataType, d.Data); err != nil {
				r.fail(c, fmt.Sprintf("go-filelog Add %s #%d: %v", d.Date, d.Id, err))
				return
			}
			r.stats.Records++
			r.stats.Bytes += int64(len(d.Data))
			r.stats.Counts[d.Date] = h.AutoId
		}
	}
}

// fail records a protocol error and drops the connection (the reader goroutine then
// calls onDisconnect). Called with r.mu held.
func (r *Replica) fail(c *socket_v1.Client, msg string) {
	r.stats.Errors = append(r.stats.Errors, msg)
	r.opt.Logf("origreplica: %s; dropping the connection", msg)
	dropConn(c)
}

func dropConn(c *socket_v1.Client) {
	defer func() { _ = recover() }() // go-socket's DisConnect panics on a nil conn
	c.DisConnect()
}

func (r *Replica) onDisconnect(c *socket_v1.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.changed.Broadcast()
	r.live = false
	r.stats.Disconnects++
	r.closeHandles()
	r.reconnect(c)
}

func (r *Replica) onConnectFail(c *socket_v1.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.changed.Broadcast()
	r.stats.ConnectFails++
	r.reconnect(c)
}

// reconnect is go-socket's ReConnect(5) (sleep, then Connect) unless Close was called.
func (r *Replica) reconnect(c *socket_v1.Client) {
	if r.closed {
		return
	}
	go func() {
		time.Sleep(r.opt.ReconnectDelay)
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if !closed {
			c.Connect()
		}
	}()
}

func (r *Replica) closeHandles() {
	for k, h := range r.handles {
		h.Close()
		delete(r.handles, k)
	}
}

// retention deletes day folders from 30 days before today+RetainDays up to the day before it.
func (r *Replica) retention() {
	keep := addDays(r.today(), r.opt.RetainDays)
	for d := addDays(keep, -30); d < keep; d = addDays(d, 1) {
		dir := filepath.Join(r.folder, strings.ReplaceAll(d, "-", ""))
		if _, err := os.Stat(dir); err == nil {
			r.opt.Logf("origreplica: retention removes %s", dir)
			_ = os.RemoveAll(dir)
		}
	}
}

// Stats returns a copy of the counters.
func (r *Replica) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

func (r *Replica) snapshot() Stats {
	s := r.stats
	s.Requests = append([]Request(nil), s.Requests...)
	s.Finished = append([]string(nil), s.Finished...)
	s.Errors = append([]string(nil), s.Errors...)
	s.Counts = map[string]int64{}
	for k, v := range r.stats.Counts {
		s.Counts[k] = v
	}
	return s
}

// Wait blocks until cond(stats) holds (checked after every event) or the timeout passes.
func (r *Replica) Wait(timeout time.Duration, cond func(Stats) bool) (Stats, bool) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		r.changed.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		s := r.snapshot()
		if cond(s) {
			return s, true
		}
		if !time.Now().Before(deadline) {
			return s, false
		}
		r.changed.Wait()
	}
}

// Close drops the connection, stops reconnecting and closes the day handles; it waits
// (up to 5 s) for go-socket's reader to report the drop.
func (r *Replica) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	live := r.live
	r.mu.Unlock()
	if live {
		dropConn(r.sock)
		r.Wait(5*time.Second, func(Stats) bool { return !r.live })
	}
	r.mu.Lock()
	r.closeHandles()
	r.mu.Unlock()
}

// decodeBatch decodes a 302 body (SPEC section 5) strictly: any malformed batch is an error.
func decodeBatch(b []byte) ([]*filelog_v1.UDataSend, error) {
	if len(b) == 0 {
		return nil, errors.New("empty batch")
	}
	var out []*filelog_v1.UDataSend
	for len(b) > 0 {
		if len(b) < 42 {
			return nil, fmt.Errorf("%d trailing bytes after %d records", len(b), len(out))
		}
		n := int32(binary.BigEndian.Uint32(b[0:4]))
		dl := int32(binary.BigEndian.Uint32(b[38:42]))
		if n < 0 || n != dl {
			return nil, fmt.Errorf("record %d: length prefix %d, length field %d", len(out), n, dl)
		}
		if int64(len(b)) < 42+int64(n) {
			return nil, fmt.Errorf("record %d: %d payload bytes announced, %d left", len(out), n, len(b)-42)
		}
		out = append(out, &filelog_v1.UDataSend{
			Date:          string(b[4:14]),
			Time:          int32(binary.BigEndian.Uint32(b[14:18])),
			Id:            int64(binary.BigEndian.Uint64(b[18:26])),
			DataFileIndex: int16(binary.BigEndian.Uint16(b[26:28])),
			DataOffset:    int64(binary.BigEndian.Uint64(b[28:36])),
			DataType:      int16(binary.BigEndian.Uint16(b[36:38])),
			DataLength:    dl,
			Data:          b[42 : 42+n],
		})
		b = b[42+n:]
	}
	return out, nil
}
