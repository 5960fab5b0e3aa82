// The Producer class against a real server; reading back with Reader (read, readBatch, for await).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Producer, Reader } from 'modsynclog'
import { freePort, readAll, rejectsWithCode, startServer, utcToday } from '../testing/helpers.mjs'

let server
const sent = []

before(async () => {
  server = await startServer()
})

after(async () => {
  server?.kill()
  server?.cleanup()
})

test('a Producer with options commits, flushes and closes', async () => {
  const p = new Producer(server.addr, { batchMaxRecords: 64, lingerMs: 2, queueCapacity: 10000, legacy: false })
  for (let i = 0; i < 2000; i++) {
    const data = Buffer.from(`p-${i}-${'x'.repeat(i % 50)}`)
    p.commit(i % 3 === 0 ? 1001 : 1101, data)
    sent.push([i % 3 === 0 ? 1001 : 1101, data])
  }
  await p.flush(10000)
  const many = ['one', Buffer.from('two'), new Uint8Array([3, 3, 3])]
  assert.equal(p.commitMany(42, many), 3)
  for (const m of many) sent.push([42, typeof m === 'string' ? Buffer.from(m) : Buffer.from(m)])
  const bad = await rejectsWithCode(assert, () => p.commitMany(42, ['ok', 5]), 'InvalidArgument', 1)
  assert.equal(bad.queued, 1)
  sent.push([42, Buffer.from('ok')]) // the items before the bad one are queued
  await p.close()
  await rejectsWithCode(assert, () => p.commit(1, 'after close'), 'Closed', 6)
  await rejectsWithCode(assert, () => p.commitMany(1, ['after close']), 'Closed', 6)
})

test('a Producer with a token against a server without one still works', async () => {
  const p = new Producer(`http://${server.addr}`, { token: 'secret' })
  p.commit(9, 'tokened')
  sent.push([9, Buffer.from('tokened')])
  await p.close(10000)
})

test('bad producer arguments throw InvalidArgument', async () => {
  await rejectsWithCode(assert, () => new Producer(server.addr, { batchMaxRecords: 0 }), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => new Producer('', {}), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => new Producer(server.addr, { lingerMs: -1 }), 'InvalidArgument', 1)
  const p = new Producer(server.addr)
  await rejectsWithCode(assert, () => p.commit(1, 12), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => p.commit(1, Buffer.alloc(4 * 1024 * 1024 + 1)), 'TooLarge', 9)
  await p.close()
})

test('flush to an unreachable server rejects with Timeout and never blocks the event loop', async () => {
  const port = await freePort()
  const p = new Producer(`127.0.0.1:${port}`)
  p.commit(1, 'nobody listens')
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = Date.now()
  await rejectsWithCode(assert, p.flush(600), 'Timeout', 5)
  clearInterval(timer)
  assert.ok(Date.now() - started >= 550)
  assert.ok(ticks >= 20, `the event loop ticked only ${ticks} times during a 600 ms flush`)
  await rejectsWithCode(assert, p.close(100), 'Timeout', 5)
})

test('read back after the server stops: exact bytes, types, order and count', async () => {
  await server.stop()
  const records = await readAll(new Reader(server.dataDir))
  assert.equal(records.length, sent.length)
  records.forEach((r, i) => {
    assert.equal(r.id, i)
    assert.equal(r.type, sent[i][0], `type of ${i}`)
    assert.ok(r.data.equals(sent[i][1]), `data of ${i}`)
  })
  const date = records[0].date
  assert.ok(date <= utcToday())

  // read(): one at a time, null at the end
  const r = new Reader(server.dataDir, date, sent.length - 2)
  const a = await r.read()
  const b = await r.read()
  assert.equal(a.id, sent.length - 2)
  assert.equal(b.id, sent.length - 1)
  assert.ok(b.data.equals(sent[sent.length - 1][1]))
  assert.equal(await r.read(), null)
  assert.equal(await r.read(), null)

  // readBatch(): up to max, [] at the end
  const rb = new Reader(server.dataDir, date, 10)
  const batch = await rb.readBatch(100)
  assert.equal(batch.length, 100)
  assert.equal(batch[0].id, 10)
  assert.equal(batch[99].id, 109)
  let total = 110
  for (;;) {
    const more = await rb.readBatch()
    if (more.length === 0) break
    total += more.length
  }
  assert.equal(total, sent.length)

  // starting after the last record, or at a later day: nothing
  assert.deepEqual(await readAll(new Reader(server.dataDir, date, sent.length)), [])
  assert.deepEqual(await readAll(new Reader(server.dataDir, '9999-12-31')), [])

  // breaking out of for-await and iterating again continues where it stopped
  const rr = new Reader(server.dataDir)
  for await (const rec of rr) {
    if (rec.id === 4) break
  }
  const rest = await readAll(rr)
  assert.equal(rest.length, sent.length - 5)
  assert.equal(rest[0].id, 5)
})
