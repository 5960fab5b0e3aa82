// The global SDK (init/commit/flush/close) against a real server, read back after it stops.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import * as msl from 'modsynclog'
import { Reader } from 'modsynclog'
import { readAll, rejectsWithCode, startServer, utcToday } from '../testing/helpers.mjs'

let server
const sent = [] // [type, Buffer] in commit order

before(async () => {
  server = await startServer()
})

after(async () => {
  server?.kill()
  server?.cleanup()
})

test('before init: commit throws NotInitialized, flush rejects NotInitialized', async () => {
  const e = await rejectsWithCode(assert, () => msl.commit(1, 'x'), 'NotInitialized', 7)
  assert.match(e.message, /init/)
  await rejectsWithCode(assert, msl.flush(100), 'NotInitialized', 7)
})

test('init once; same address again is a no-op; another address is AlreadyInitialized', async () => {
  msl.init(server.addr)
  msl.init(server.addr)
  await rejectsWithCode(assert, () => msl.init('127.0.0.1:1'), 'AlreadyInitialized', 8)
})

test('commit accepts Buffer, Uint8Array and string (UTF-8); flush resolves', async () => {
  const items = [
    [1001, Buffer.from('a buffer')],
    [1101, new Uint8Array([0, 1, 2, 255])],
    [1201, 'héllo wörld ✓'],
    [-5, Buffer.alloc(0)],
    [32767, ''],
  ]
  for (const [ty, data] of items) {
    msl.commit(ty, data)
    sent.push([ty, typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)])
  }
  for (let i = 0; i < 500; i++) {
    const data = Buffer.from(`record ${i}`)
    msl.commit(7, data)
    sent.push([7, data])
  }
  const p = msl.flush(10000)
  assert.ok(p instanceof Promise)
  assert.equal(await p, undefined)
})

test('bad input throws an Error with a code and changes nothing', async () => {
  await rejectsWithCode(assert, () => msl.commit(1, 42), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1, { a: 1 }), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1, null), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1, undefined), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1, new Uint16Array(2)), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(70000, 'x'), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1.5, 'x'), 'InvalidArgument', 1)
  await rejectsWithCode(assert, () => msl.commit(1, Buffer.alloc(4 * 1024 * 1024 + 1)), 'TooLarge', 9)
  await rejectsWithCode(assert, msl.flush(-1), 'InvalidArgument', 1)
  // exactly the limit is fine
  const big = Buffer.alloc(4 * 1024 * 1024, 0x61)
  msl.commit(3, big)
  sent.push([3, big])
  await msl.flush(20000)
})

test('close resolves; commit afterwards throws Closed', async () => {
  await msl.close()
  await rejectsWithCode(assert, () => msl.commit(1, 'late'), 'Closed', 6)
})

test('read back after the server stops: exact bytes, types, order and count', async () => {
  await server.stop()
  const records = await readAll(new Reader(server.dataDir))
  assert.equal(records.length, sent.length)
  const today = utcToday()
  records.forEach((r, i) => {
    assert.equal(r.id, i)
    assert.equal(typeof r.id, 'number')
    assert.ok(r.date === today || r.date < today, r.date)
    assert.equal(typeof r.time, 'number')
    assert.ok(Math.abs(r.time - Date.now() / 1000) < 600)
    assert.equal(r.type, sent[i][0])
    assert.ok(Buffer.isBuffer(r.data))
    assert.ok(r.data.equals(sent[i][1]), `record ${i}`)
  })
  // nothing blocked: a little timer still runs
  await sleep(1)
})
