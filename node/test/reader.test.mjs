// Reader errors, following a live server, closing a follower from elsewhere.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
import { Producer, Reader } from 'modsynclog'
import { readAll, rejectsWithCode, startServer, tempDir } from '../testing/helpers.mjs'

let server
let producer

before(async () => {
  server = await startServer()
  producer = new Producer(server.addr, { lingerMs: 1 })
})

after(async () => {
  await producer?.close(2000).catch(() => {})
  server?.kill()
  server?.cleanup()
})

test('a missing folder, a bad date or id throw with a code', async () => {
  await rejectsWithCode(assert, () => new Reader(path.join(tempDir(), 'missing')), 'NotFound', 2)
  const dir = tempDir()
  await rejectsWithCode(assert, () => new Reader(dir, '2024-13-01'), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => new Reader(dir, '20240101'), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => new Reader(dir, undefined, -1), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => new Reader(dir, undefined, 1.5), 'InvalidArgument', 1)
  // an empty folder is fine and ends at once
  const empty = new Reader(dir)
  assert.equal(await empty.read(), null)
  const follow = new Reader(dir, undefined, undefined, { follow: true })
  await rejectsWithCode(assert, follow.read(50), 'Timeout', 5)
  await rejectsWithCode(assert, follow.read(-3), 'InvalidArgument', 1)
  follow.close()
  assert.equal(await follow.read(), null)
})

test('a follower sees live records; close() from elsewhere ends the iteration; the loop keeps ticking', async () => {
  producer.commit(1, 'first')
  await producer.flush(10000)
  const reader = new Reader(server.dataDir, undefined, undefined, { follow: true })
  const seen = []
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const iterating = (async () => {
    for await (const r of reader) {
      seen.push(r.data.toString())
      if (seen.length === 3) {
        // ask for more later: the iterator is now waiting on an empty follow
        setTimeout(() => reader.close(), 400)
      }
    }
    return 'ended'
  })()
  await sleep(100)
  producer.commit(2, 'second')
  producer.commit(3, 'third')
  await producer.flush(10000)
  const t0 = Date.now()
  const result = await Promise.race([iterating, sleep(10000).then(() => 'stuck')])
  clearInterval(timer)
  assert.equal(result, 'ended')
  assert.deepEqual(seen, ['first', 'second', 'third'])
  assert.ok(Date.now() - t0 >= 300)
  assert.ok(ticks >= 20, `the event loop ticked only ${ticks} times while a follow read was pending`)
  // closed: stays at the end
  assert.equal(await reader.read(), null)
  reader.close()
})

test('a pending read() resolves null when another part of the program closes the reader', async () => {
  const reader = new Reader(server.dataDir, '9999-12-30', 0, { follow: true })
  const pending = reader.read()
  await sleep(50)
  reader.close()
  assert.equal(await pending, null)
})

// The reader hands records over in chunks shared by read, readBatch and the iterator.
test('read, readBatch and for-await on one reader never skip or repeat a record; data is a Buffer', async () => {
  for (let i = 0; i < 2500; i++) producer.commit(7, `chunked ${i}`)
  await producer.flush(10000)
  const all = await readAll(new Reader(server.dataDir))
  assert.ok(all.length >= 2500)
  const key = (r) => `${r.date}/${r.id}/${r.type}/${r.data.toString('hex')}`

  const reader = new Reader(server.dataDir)
  const seen = [await reader.read(), await reader.read(), await reader.read()]
  seen.push(...(await reader.readBatch(5)))
  for await (const r of reader) {
    seen.push(r)
    if (seen.length === 18) break
  }
  seen.push(...(await reader.readBatch(2000)))
  for (let r = await reader.read(); r !== null; r = await reader.read()) seen.push(r)
  assert.deepEqual(seen.map(key), all.map(key))

  const last = all[all.length - 1]
  assert.equal(last.data.toString(), 'chunked 2499')
  assert.ok(Buffer.isBuffer(last.data) && last.data instanceof Buffer)
  assert.equal(last.data.length, 'chunked 2499'.length)
  assert.deepEqual(Buffer.from(last.data), Buffer.from('chunked 2499'))
})

test('a record already written resolves read() without a trip through the event loop', async () => {
  const reader = new Reader(server.dataDir)
  let got
  reader.read().then((r) => {
    got = r
  })
  // Microtasks only: a read that went to a background thread could not settle here.
  for (let i = 0; i < 5; i++) await null
  assert.ok(got, 'read() of a ready record did not resolve within microtasks')
  let batch
  reader.readBatch(10).then((b) => {
    batch = b
  })
  for (let i = 0; i < 5; i++) await null
  assert.equal(batch?.length, 10)
  assert.equal(batch[0].id, got.id + 1)
  reader.close()
})

test('reads pending on a follower resolve in the order they were made', async () => {
  const all = await readAll(new Reader(server.dataDir))
  const last = all[all.length - 1]
  const reader = new Reader(server.dataDir, last.date, last.id + 1, { follow: true })
  const pending = [reader.read(10000), reader.readBatch(1, 10000), reader.read(10000)]
  await sleep(50)
  for (const text of ['one', 'two', 'three']) producer.commit(8, text)
  await producer.flush(10000)
  const [a, [b], c] = await Promise.all(pending)
  assert.deepEqual([a, b, c].map((r) => r.data.toString()), ['one', 'two', 'three'])
  assert.deepEqual([a, b, c].map((r) => r.id), [last.id + 1, last.id + 2, last.id + 3])
  reader.close()
})
