// reader.readColumns(): batches as columns hold exactly what a for-await scan yields, and
// share the reader's position with read(), readBatch() and for-await.
import assert from 'node:assert/strict'
import { cpSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Producer, Reader } from 'modsynclog'
import { readAll, rejectsWithCode, startServer, tempDir } from '../testing/helpers.mjs'

let server
let producer
// A store of two days: the server's one day, copied under two dates.
let twoDays

before(async () => {
  server = await startServer()
  producer = new Producer(server.addr, { lingerMs: 1 })
  for (let i = 0; i < 3000; i++) {
    // Types vary; every 7th payload is empty, some are long.
    producer.commit(i % 5, i % 7 === 0 ? '' : `columns ${i} ${'x'.repeat(i % 300)}`)
  }
  await producer.flush(10000)
  const days = readdirSync(server.dataDir).filter((n) => /^\d{8}$/.test(n))
  assert.equal(days.length, 1, `one day folder in ${server.dataDir}: ${days}`)
  twoDays = tempDir()
  cpSync(path.join(server.dataDir, days[0]), path.join(twoDays, '20000101'), { recursive: true })
  cpSync(path.join(server.dataDir, days[0]), path.join(twoDays, '20000102'), { recursive: true })
})

after(async () => {
  await producer?.close(2000).catch(() => {})
  server?.kill()
  server?.cleanup()
})

const key = (r) => `${r.date}/${r.id}/${r.time}/${r.type}/${Buffer.from(r.data).toString('hex')}`

// The records of a batch, checking its shape on the way.
function rowsOf(b, maxRecords) {
  assert.ok(b.length >= 1 && b.length <= maxRecords, `${b.length} records, at most ${maxRecords}`)
  assert.ok(b.times instanceof Int32Array && b.types instanceof Int16Array && b.offsets instanceof Uint32Array)
  assert.ok(Buffer.isBuffer(b.data))
  assert.equal(b.times.length, b.length)
  assert.equal(b.types.length, b.length)
  assert.equal(b.offsets.length, b.length + 1)
  assert.equal(b.offsets[0], 0)
  assert.equal(b.offsets[b.length], b.data.length)
  assert.match(b.date, /^\d{4}-\d{2}-\d{2}$/)
  const rows = []
  for (let i = 0; i < b.length; i++) {
    const data = b.data.subarray(b.offsets[i], b.offsets[i + 1])
    rows.push({ date: b.date, id: b.firstId + i, time: b.times[i], type: b.types[i], data })
  }
  return rows
}

async function scanColumns(reader, options = {}) {
  const rows = []
  let batches = 0
  for (let b; (b = await reader.readColumns(options)) !== null; batches++) {
    rows.push(...rowsOf(b, options.maxRecords ?? 16384))
  }
  return { rows, batches }
}

test('batches concatenated equal a for-await scan over two days; one day per batch; null at the end', async () => {
  const want = (await readAll(new Reader(twoDays))).map(key)
  assert.equal(want.length, 6000)
  assert.deepEqual([...new Set(want.map((k) => k.slice(0, 10)))], ['2000-01-01', '2000-01-02'])
  for (const options of [{}, { maxRecords: 1000 }, { maxRecords: 7, maxBytes: 600 }, { maxBytes: 1 }]) {
    const reader = new Reader(twoDays)
    const { rows, batches } = await scanColumns(reader, options)
    assert.deepEqual(rows.map(key), want, JSON.stringify(options))
    // the defaults: one batch per day
    if (options.maxRecords === undefined && options.maxBytes === undefined) assert.equal(batches, 2)
    // one payload byte ends a batch: only empty payloads share one with the next record
    if (options.maxBytes === 1) assert.ok(batches > 5000, `${batches} batches`)
    assert.equal(await reader.readColumns(options), null)
  }
})

test('a batch stops taking records once its payloads reach maxBytes', async () => {
  const reader = new Reader(twoDays)
  for (let b; (b = await reader.readColumns({ maxBytes: 5000 })) !== null; ) {
    assert.ok(b.offsets[b.length - 1] < 5000, `${b.offsets[b.length - 1]} bytes before the last record`)
  }
})

test('read(), readColumns() and for-await on one reader yield every record once, in order', async () => {
  const all = (await readAll(new Reader(twoDays))).map(key)
  const reader = new Reader(twoDays)
  const seen = [await reader.read(), await reader.read(), await reader.read()]
  // the rest of read()'s chunk first, then batches from the addon
  seen.push(...rowsOf(await reader.readColumns({ maxRecords: 100 }), 100))
  seen.push(...rowsOf(await reader.readColumns(), 16384))
  seen.push(...(await reader.readBatch(5)))
  seen.push(...rowsOf(await reader.readColumns({ maxRecords: 2 }), 2))
  for await (const r of reader) {
    seen.push(r)
    if (seen.length === 4000) break
  }
  for (let b; (b = await reader.readColumns({ maxRecords: 500 })) !== null; ) seen.push(...rowsOf(b, 500))
  assert.deepEqual(seen.map(key), all)
})

test('the records a chunk holds across two days come out as two batches', async () => {
  // 3 records before the end of the first day: read()'s chunk holds those and the next day.
  const reader = new Reader(twoDays, '2000-01-01', 2996)
  const first = await reader.read()
  assert.equal(first.id, 2996)
  const a = rowsOf(await reader.readColumns(), 16384)
  assert.deepEqual(a.map((r) => `${r.date}/${r.id}`), ['2000-01-01/2997', '2000-01-01/2998', '2000-01-01/2999'])
  const b = await reader.readColumns({ maxRecords: 10 })
  assert.equal(b.date, '2000-01-02')
  assert.equal(b.firstId, 0)
  assert.equal(b.length, 10)
  reader.close()
})

test('a ready batch resolves readColumns() without a trip through the event loop', async () => {
  const reader = new Reader(server.dataDir)
  let got
  reader.readColumns({ maxRecords: 10 }).then((b) => {
    got = b
  })
  // Microtasks only: a batch read on a background thread could not settle here.
  for (let i = 0; i < 5; i++) await null
  assert.equal(got?.length, 10, 'readColumns() of ready records did not resolve within microtasks')
  reader.close()
  assert.equal(await reader.readColumns(), null)
})

test('bad options reject with InvalidArgument', async () => {
  const reader = new Reader(twoDays)
  for (const options of [{ maxRecords: 0 }, { maxRecords: 1.5 }, { maxBytes: -1 }, { timeoutMs: -1 }]) {
    await rejectsWithCode(assert, reader.readColumns(options), 'InvalidArgument', 1)
  }
  // also when the records come from read()'s chunk
  await reader.read()
  await rejectsWithCode(assert, reader.readColumns({ maxRecords: 0 }), 'InvalidArgument', 1)
  assert.equal((await reader.readColumns()).firstId, 1)
  reader.close()
})

test('a follower: readColumns rejects Timeout as read() does, then resolves a batch after a commit; close ends a wait', async () => {
  const all = await readAll(new Reader(server.dataDir))
  const last = all[all.length - 1]
  const reader = new Reader(server.dataDir, last.date, last.id + 1, { follow: true })
  await rejectsWithCode(assert, reader.readColumns({ timeoutMs: 50 }), 'Timeout', 5)
  await rejectsWithCode(assert, reader.read(50), 'Timeout', 5)

  // reads made while one waits resolve in order, whatever their kind
  const pending = [reader.read(10000), reader.readColumns({ timeoutMs: 10000, maxRecords: 1 }), reader.read(10000)]
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  await sleep(100)
  for (const text of ['one', 'two', 'three']) producer.commit(9, text)
  await producer.flush(10000)
  const [a, b, c] = await Promise.all(pending)
  clearInterval(timer)
  assert.ok(ticks >= 5, `the event loop ticked only ${ticks} times while readColumns waited`)
  assert.equal(b.length, 1)
  assert.deepEqual([a.data.toString(), b.data.toString(), c.data.toString()], ['one', 'two', 'three'])
  assert.deepEqual([a.id, b.firstId, c.id], [last.id + 1, last.id + 2, last.id + 3])

  const waiting = reader.readColumns()
  await sleep(50)
  reader.close()
  assert.equal(await waiting, null)
  assert.equal(await reader.readColumns(), null)
})
