// The public reading methods of `Reader` (`read`, `readBatch`, `readColumns`, `close` and
// the async iterator), installed on `Reader.prototype` when the addon loads (reader.rs runs
// this script; `dts-header.d.ts` types them). The addon hands over packed chunks of records
// (see reader.rs); this builds the record objects from them, lazily, one per call.
//
// No thread hop when a record is ready: a read first takes records from the reader's
// current chunk, then from `_take` (records already written, read on this thread), and
// only when none is there waits in the addon's blocking pool (`_wait`). One chunk per
// reader is shared by all its methods, so mixing them never skips or repeats a record;
// while a wait is pending, later calls queue behind it, so they resolve in order.
// `readColumns` takes its batches from the addon as columns (see columns.rs), after any
// records the current chunk still holds.
(function (Reader) {
  'use strict'
  const CHUNK = __CHUNK_RECORDS__
  const MAX_CHUNK = __MAX_CHUNK_RECORDS__
  const STATE = Symbol('modsynclog.reader')

  // A record's payload: a `Buffer` viewing the chunk, built the way Node builds its own
  // (a `Uint8Array` subclass whose prototype chain holds `Buffer.prototype`), so it has
  // every `Buffer` method, `Buffer.isBuffer` and `instanceof Buffer` hold, and it prints as
  // `<Buffer ..>`. `Buffer.from(arrayBuffer, offset, length)` builds the same object after
  // argument checks that cost three times as much, which shows at millions of records/s.
  const Payload = class Buffer extends Uint8Array {}
  Object.setPrototypeOf(Payload.prototype, Buffer.prototype)

  // Where a reader stands in its current chunk.
  class Cursor {
    constructor() {
      this.data = null // Buffer: four numbers per record, then the payloads back to back
      this.bytes = null // its ArrayBuffer and where the payloads start (`.buffer` is slow)
      this.base = 0
      this.meta = null // Float64Array view: id, time, type, end offset per record
      this.dates = null // the days of the chunk; dates[k] starts at record starts[k]
      this.starts = null
      this.n = 0
      this.i = 0
      this.offset = 0
      this.run = 0
      this.date = ''
      this.end = false // no record follows this chunk (for now, unless following)
      this.closed = false
      this.waiting = null // the pending `_wait`: later reads queue behind it
    }

    load(chunk) {
      const bytes = chunk.bytes
      const n = chunk.count
      // A Buffer napi allocates starts its own ArrayBuffer (offset 0, malloc-aligned); copy
      // the numbers out in the unexpected case that a view would be misaligned.
      this.meta =
        bytes.byteOffset % 8 === 0
          ? new Float64Array(bytes.buffer, bytes.byteOffset, n * 4)
          : new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * 32))
      this.data = bytes
      this.bytes = bytes.buffer
      this.base = bytes.byteOffset + n * 32
      this.dates = chunk.dates
      this.starts = chunk.starts
      this.n = n
      this.i = 0
      this.offset = 0
      this.run = 0
      this.end = chunk.end
    }

    // The next record of the chunk, or undefined when it is used up.
    shift() {
      const i = this.i
      if (i >= this.n) return undefined
      if (this.run < this.starts.length && this.starts[this.run] === i) this.date = this.dates[this.run++]
      const m = this.meta
      const k = i * 4
      const end = m[k + 3]
      const data = new Payload(this.bytes, this.base + this.offset, end - this.offset)
      this.offset = end
      this.i = i + 1
      return { date: this.date, id: m[k], time: m[k + 1], type: m[k + 2], data }
    }

    clear() {
      this.data = this.bytes = this.meta = this.dates = this.starts = null
      this.n = this.i = 0
    }
  }

  function cursor(reader) {
    return reader[STATE] ?? (reader[STATE] = new Cursor())
  }

  const isTimeout = (t) => t === undefined || t === null || (typeof t === 'number' && t >= 0 && t < Infinity)

  // A record ready now: the record, null at the end (or once closed), or undefined when
  // the caller has to wait for one. Throws the addon's error.
  function ready(reader, c, max) {
    const r = c.shift()
    if (r !== undefined) return r
    if (c.closed) return null
    c.load(reader._take(max))
    const next = c.shift()
    if (next !== undefined) return next
    return c.end ? null : undefined
  }

  // Waits in the addon for the next chunk, which becomes the reader's current one.
  function wait(reader, c, max, timeoutMs) {
    const settle = () => {
      c.waiting = null
    }
    c.waiting = reader._wait(max, timeoutMs).then(
      (chunk) => {
        settle()
        if (!c.closed) c.load(chunk)
      },
      (e) => {
        settle()
        throw e
      },
    )
    return c.waiting
  }

  function read(timeoutMs) {
    const c = cursor(this)
    if (c.waiting !== null) {
      const again = () => this.read(timeoutMs)
      return c.waiting.then(again, again)
    }
    // A bad timeout rejects as it always did, through the addon's own check.
    if (!isTimeout(timeoutMs)) return this._wait(1, timeoutMs)
    let r
    try {
      r = ready(this, c, CHUNK)
    } catch (e) {
      return Promise.reject(e)
    }
    if (r !== undefined) return Promise.resolve(r)
    return wait(this, c, CHUNK, timeoutMs).then(() => c.shift() ?? null)
  }

  function readBatch(max, timeoutMs) {
    const c = cursor(this)
    if (c.waiting !== null) {
      const again = () => this.readBatch(max, timeoutMs)
      return c.waiting.then(again, again)
    }
    if (!isTimeout(timeoutMs) || (max !== undefined && max !== null && typeof max !== 'number')) {
      return this._wait(max, timeoutMs)
    }
    let want = max === undefined || max === null ? CHUNK : Math.floor(max)
    if (!(want >= 1)) want = 1
    if (want > MAX_CHUNK) want = MAX_CHUNK
    const out = []
    try {
      while (out.length < want) {
        const r = c.shift()
        if (r !== undefined) {
          out.push(r)
          continue
        }
        if (c.closed) break
        c.load(this._take(Math.min(Math.max(want - out.length, CHUNK), MAX_CHUNK)))
        if (c.n === 0) break
      }
    } catch (e) {
      // An error after some records: hand those over; the next call reports it.
      if (out.length === 0) return Promise.reject(e)
    }
    if (out.length > 0 || c.closed || c.end) return Promise.resolve(out)
    return wait(this, c, want, timeoutMs).then(() => {
      const got = []
      while (got.length < want) {
        const r = c.shift()
        if (r === undefined) break
        got.push(r)
      }
      return got
    })
  }

  // A `Columns` object over `bytes`, laid out as columns.rs says: offsets, times, types,
  // zeros to a multiple of 8, payloads. Views only: no work per record.
  function columnsOf(bytes, n, date, firstId) {
    let buffer = bytes.buffer
    let at = bytes.byteOffset
    if (at % 8 !== 0) {
      // Not expected (napi and Buffer.alloc start their own ArrayBuffer), but a view
      // must be aligned for its type: copy.
      buffer = buffer.slice(at, at + bytes.length)
      at = 0
    }
    const offsets = new Uint32Array(buffer, at, n + 1)
    const times = new Int32Array(buffer, at + 4 * n + 4, n)
    const types = new Int16Array(buffer, at + 8 * n + 4, n)
    const dataAt = Math.ceil((10 * n + 4) / 8) * 8
    const data = new Payload(buffer, at + dataAt, bytes.length - dataAt)
    return { date, firstId, length: n, times, types, offsets, data }
  }

  // The records the current chunk still holds (read() or the iterator left them there), as
  // one batch of one day within the limits, the way the core cuts batches. Rare: copying.
  function leftover(c, maxRecords, maxBytes) {
    const rows = []
    let size = 0
    while (c.i < c.n && rows.length < maxRecords && size < maxBytes) {
      if (rows.length > 0 && c.run < c.starts.length && c.starts[c.run] === c.i) break // next day
      const r = c.shift()
      rows.push(r)
      size += r.data.length
    }
    const n = rows.length
    const out = columnsOf(Buffer.alloc(Math.ceil((10 * n + 4) / 8) * 8 + size), n, rows[0].date, rows[0].id)
    let end = 0
    for (let k = 0; k < n; k++) {
      const r = rows[k]
      out.data.set(r.data, end)
      end += r.data.length
      out.offsets[k + 1] = end
      out.times[k] = r.time
      out.types[k] = r.type
    }
    return out
  }

  const batchOf = (b) => (b === null ? null : columnsOf(b.bytes, b.length, b.date, b.firstId))

  function readColumns(options) {
    const c = cursor(this)
    if (c.waiting !== null) {
      const again = () => this.readColumns(options)
      return c.waiting.then(again, again)
    }
    let got
    try {
      if (c.i < c.n) {
        const [maxRecords, maxBytes] = this._columnLimits(options)
        return Promise.resolve(leftover(c, maxRecords, maxBytes))
      }
      // Checks the options, and is null once closed.
      got = this._takeColumns(options)
    } catch (e) {
      return Promise.reject(e)
    }
    if (got !== undefined) return Promise.resolve(batchOf(got))
    // None ready yet (following): wait in the addon; later calls queue behind this one.
    c.waiting = this._waitColumns(options).then(
      (b) => {
        c.waiting = null
        return c.closed ? null : batchOf(b)
      },
      (e) => {
        c.waiting = null
        throw e
      },
    )
    return c.waiting
  }

  function close() {
    const c = cursor(this)
    c.closed = true
    c.clear()
    this._close()
  }

  function iterator() {
    const reader = this
    const c = cursor(this)
    let done = false
    const step = (r) => {
      if (r !== null) return { value: r, done: false }
      done = true
      return { value: undefined, done: true }
    }
    return {
      next() {
        if (done) return Promise.resolve({ value: undefined, done: true })
        if (c.waiting === null) {
          const r = c.shift()
          if (r !== undefined) return Promise.resolve({ value: r, done: false })
        }
        return reader.read().then(step)
      },
      return(value) {
        done = true
        return Promise.resolve({ value, done: true })
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  const method = (key, value) =>
    Object.defineProperty(Reader.prototype, key, { configurable: true, writable: true, value })
  method('read', read)
  method('readBatch', readBatch)
  method('readColumns', readColumns)
  method('close', close)
  method(Symbol.asyncIterator, iterator)
})
