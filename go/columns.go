package modsynclog

import (
	"io"
	"time"
)

// Columns is a batch of records of one day, as Reader.NextColumns returns it: record i
// (i < Len()) has ID FirstID+i, Time Times[i], Type Types[i] and the payload
// Data[Offsets[i]:Offsets[i+1]]. The slices are the caller's.
//
// A bulk scan reads several times faster this way than record by record: a batch is a
// few copies, while Next builds a Record and copies a payload per record.
type Columns struct {
	Date    string // the day of every record, "YYYY-MM-DD"
	FirstID uint64
	Times   []int32  // Unix seconds, as stored
	Types   []int16  // the data types
	Offsets []uint32 // Len()+1 entries from 0: where each payload starts in Data, then its end
	Data    []byte   // every payload, one after another
}

// Len is the number of records in the batch.
func (c *Columns) Len() int { return len(c.Times) }

// Record returns record i of the batch (its Data a slice of c.Data, capacity capped).
func (c *Columns) Record(i int) Record {
	start, end := c.Offsets[i], c.Offsets[i+1]
	return Record{Date: c.Date, ID: c.FirstID + uint64(i), Time: c.Times[i], Type: c.Types[i], Data: c.Data[start:end:end]}
}

// NextColumns returns the next records of one day as columns: it waits like NextTimeout
// for the first one (timeout negative: no limit), then takes only records already there,
// up to maxRecords and until the payloads reach maxBytes (0: the library's defaults,
// 16384 records and 1 MiB; one record is taken whatever its size). At the end (or once
// stopped or closed) it returns io.EOF; a timeout is an ErrTimeout error. Records that
// Next has taken from the library but not handed out yet come first, so mixing Next and
// NextColumns never skips or repeats a record.
func (r *Reader) NextColumns(maxRecords, maxBytes int, timeout time.Duration) (*Columns, error) {
	c := new(Columns)
	if err := r.NextColumnsInto(c, maxRecords, maxBytes, timeout); err != nil {
		return nil, err
	}
	return c, nil
}

// NextColumnsInto is NextColumns filling c, reusing the memory of its slices: what c
// held is overwritten (keep a copy of anything needed beyond the next call). A scan that
// reuses one Columns allocates nothing per batch once its slices are large enough, where
// NextColumns allocates about a batch's size each time (for the garbage collector to
// reclaim). On an error or io.EOF, c is left empty.
func (r *Reader) NextColumnsInto(c *Columns, maxRecords, maxBytes int, timeout time.Duration) error {
	c.reset()
	r.next.Lock()
	defer r.next.Unlock()
	if r.stopped.Load() {
		return io.EOF
	}
	if r.pos < len(r.buffered) {
		r.bufferedColumns(c, maxRecords, maxBytes)
		return nil
	}
	r.state.RLock()
	ptr := r.ptr
	r.state.RUnlock()
	if ptr.ptr == nil {
		return io.EOF
	}
	// Close frees ptr only while holding r.next, so it stays valid during the call.
	ok, err := readerNextColumnsC(ptr, c, max(maxRecords, 0), max(maxBytes, 0), timeout)
	if !ok {
		c.reset()
		if err == nil {
			err = io.EOF
		}
	}
	return err
}

// reset empties c, keeping its slices' memory.
func (c *Columns) reset() {
	c.Date, c.FirstID = "", 0
	c.Times, c.Types, c.Offsets, c.Data = c.Times[:0], c.Types[:0], c.Offsets[:0], c.Data[:0]
}

// bufferedColumns fills c (empty) with Next's buffered records of the first one's day,
// within the same limits.
func (r *Reader) bufferedColumns(c *Columns, maxRecords, maxBytes int) {
	if maxRecords <= 0 {
		maxRecords = 16384
	}
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	first := r.buffered[r.pos]
	c.Date, c.FirstID = first.Date, first.ID
	c.Offsets = append(c.Offsets, 0)
	for r.pos < len(r.buffered) && c.Len() < maxRecords && len(c.Data) < maxBytes {
		rec := r.buffered[r.pos]
		if rec.Date != c.Date {
			break
		}
		r.buffered[r.pos] = Record{}
		r.pos++
		c.Times = append(c.Times, rec.Time)
		c.Types = append(c.Types, rec.Type)
		c.Data = append(c.Data, rec.Data...)
		c.Offsets = append(c.Offsets, uint32(len(c.Data)))
	}
}
