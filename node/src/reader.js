// The public reading methods of `Reader` (`read`, `readBatch`, `close` and the async
// iterator), installed on `Reader.prototype` when the addon loads (reader.rs runs this
// script; `dts-header.d.ts` types them). The addon hands over packed chunks of records
// (see reader.rs); this builds the record objects from them, lazily, one per call.
//
// No thread hop when a record is ready: a read first takes records from the reader's
// current chunk, then from `_take` (records already written, read on this thread), and
// only when none is there waits in the addon's blocking pool (`_wait`). One chunk per
// reader is shared by all its methods, so mixing them never skips or repeats a record;
// while a wait is pending, later calls queue behind it, so they resolve in order.
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
  method('close', close)
  method(Symbol.asyncIterator, iterator)
})
