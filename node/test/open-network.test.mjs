// Safe on an open network: tokens, a bounded queue that never blocks the JavaScript thread
// (commit vs commitAsync), and TLS, against a real server.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import * as msl from 'modsynclog'
import { Producer, Reader } from 'modsynclog'
import {
  freePort,
  nodeDir,
  readAll,
  rejectsWithCode,
  serverHasTls,
  startServer,
  testCerts,
} from '../testing/helpers.mjs'

const servers = []
let certs

async function server(args = [], port = undefined) {
  const s = await startServer({ args, port })
  servers.push(s)
  return s
}

before(() => {
  certs = testCerts()
})

after(() => {
  for (const s of servers) {
    s.kill()
    s.cleanup()
  }
  if (certs) rmSync(certs, { recursive: true, force: true })
})

/** Counts event-loop ticks (every 10 ms) while `promise` settles. */
async function ticksDuring(promise) {
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  try {
    await promise
  } catch {
    // the caller checks the outcome separately
  } finally {
    clearInterval(timer)
  }
  return ticks
}

/** Runs a CommonJS snippet in a fresh node (the global SDK is once per process). */
async function runNode(code, env = {}) {
  const prelude = `const msl = require(${JSON.stringify(path.join(nodeDir, 'index.js'))});\n`
  return promisify(execFile)(process.execPath, ['-e', prelude + code], {
    env: { ...process.env, ...env },
    timeout: 60000,
  })
}

// --- tokens ---------------------------------------------------------------------------

test('the right token delivers', async () => {
  const s = await server(['--token', 'right'])
  const p = new Producer(s.addr, { token: 'right' })
  p.commit(1, 'authorized')
  await p.close(20000)
  await s.stop()
  const records = await readAll(new Reader(s.dataDir))
  assert.deepEqual(records.map((r) => r.data.toString()), ['authorized'])
})

for (const token of ['wrong', undefined]) {
  test(`token ${token}: flush rejects Unauthenticated soon, then everything fails at once`, async () => {
    const s = await server(['--token', 'right'])
    const p = new Producer(s.addr, token === undefined ? {} : { token })
    // The producer connects at once: the refusal may arrive before the first commit.
    try { p.commit(1, 'refused') } catch (e) { if (e.code !== 'Unauthenticated') throw e }
    const started = Date.now()
    const e = await rejectsWithCode(assert, p.flush(20000), 'Unauthenticated', 11)
    assert.ok(Date.now() - started < 8000, `the auth error took ${Date.now() - started} ms: ${e.message}`)

    const t = Date.now()
    await rejectsWithCode(assert, () => p.commit(1, 'later'), 'Unauthenticated', 11)
    await rejectsWithCode(assert, () => p.commitMany(1, ['later']), 'Unauthenticated', 11)
    await rejectsWithCode(assert, p.commitAsync(1, 'later'), 'Unauthenticated', 11)
    await rejectsWithCode(assert, p.flush(20000), 'Unauthenticated', 11)
    await rejectsWithCode(assert, p.close(20000), 'Unauthenticated', 11)
    assert.ok(Date.now() - t < 1000, 'a finished producer must fail at once')
    await s.stop()
    assert.deepEqual(await readAll(new Reader(s.dataDir)), [])
  })
}

test('a token without the write scope: flush rejects PermissionDenied, then commit throws it', async () => {
  const s = await server(['--ingest-token', 'w', '--sync-token', 'r'])
  const p = new Producer(s.addr, { token: 'r' })
  try { p.commit(1, 'read scope only') } catch (e) { if (e.code !== 'PermissionDenied') throw e }
  const started = Date.now()
  await rejectsWithCode(assert, p.flush(20000), 'PermissionDenied', 15)
  assert.ok(Date.now() - started < 8000)
  await rejectsWithCode(assert, () => p.commit(1, 'later'), 'PermissionDenied', 15)
  await rejectsWithCode(assert, p.commitAsync(1, 'later'), 'PermissionDenied', 15)
  await rejectsWithCode(assert, p.close(20000), 'PermissionDenied', 15)
  // the write token of the same server works
  const q = new Producer(s.addr, { token: 'w' })
  q.commit(1, 'write scope')
  await q.close(20000)
  await s.stop()
  assert.deepEqual((await readAll(new Reader(s.dataDir))).map((r) => r.data.toString()), ['write scope'])
})

test('global SDK with a wrong token: flush rejects Unauthenticated, commit then throws', async () => {
  const s = await server(['--token', 'right'])
  const { stdout } = await runNode(
    `(async () => {
      msl.init(process.env.ADDR, { token: 'wrong', lingerMs: 1 })
      try { msl.commit(1, 'refused') } catch (e) { if (e.code !== 'Unauthenticated') throw e }
      try { await msl.flush(20000); throw new Error('flush must fail') } catch (e) { if (e.code !== 'Unauthenticated') throw e }
      try { msl.commit(1, 'later'); throw new Error('commit must fail') } catch (e) { if (e.code !== 'Unauthenticated') throw e }
      try { await msl.commitAsync(1, 'later'); throw new Error('commitAsync must fail') } catch (e) { if (e.code !== 'Unauthenticated') throw e }
      console.log('ok')
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { ADDR: s.addr },
  )
  assert.equal(stdout.trim(), 'ok')
})

// --- bounded queue: commit never blocks, commitAsync waits ----------------------------

test('queueBytes: commit throws QueueFull at once; commitAsync rejects QueueFull after its timeout', async () => {
  const p = new Producer(`127.0.0.1:${await freePort()}`, { queueBytes: 4096, enqueueTimeoutMs: 500 })
  const record = Buffer.alloc(1000, 0x78)
  let accepted = 0
  const started = Date.now()
  const e = await rejectsWithCode(
    assert,
    () => {
      for (let i = 0; i < 100; i++) {
        p.commit(1, record)
        accepted++
      }
    },
    'QueueFull',
    13,
  )
  // the default queue (100 000 records, 64 MiB) would have taken all 100
  assert.ok(accepted >= 1 && accepted <= 5, `accepted ${accepted}`)
  assert.ok(Date.now() - started < 300, `commit waited ${Date.now() - started} ms: ${e.message}`)
  await rejectsWithCode(assert, () => p.commitMany(1, [record]), 'QueueFull', 13)

  const t = Date.now()
  const pending = p.commitAsync(1, record)
  assert.ok(pending instanceof Promise)
  assert.ok(Date.now() - t < 100, 'commitAsync must return a Promise at once')
  const ticks = await ticksDuring(pending)
  await rejectsWithCode(assert, pending, 'QueueFull', 13)
  const waited = Date.now() - t
  assert.ok(waited >= 400 && waited < 5000, `commitAsync waited ${waited} ms`)
  assert.ok(ticks >= 20, `the event loop ticked only ${ticks} times during a 500 ms commitAsync`)
  await rejectsWithCode(assert, p.close(100), 'Timeout', 5)
})

test('queueCapacity: commit throws QueueFull at once on the record bound', async () => {
  const p = new Producer(`127.0.0.1:${await freePort()}`, { queueCapacity: 3, lingerMs: 60000, enqueueTimeoutMs: 300 })
  p.commit(1, 'r0')
  // commitMany stops at the first item that does not fit; `queued` counts those before it
  const e = await rejectsWithCode(assert, () => p.commitMany(1, ['r1', 'r2', 'r3', 'r4']), 'QueueFull', 13)
  assert.equal(e.queued, 2)
  const t = Date.now()
  await rejectsWithCode(assert, () => p.commit(1, 'one too many'), 'QueueFull', 13)
  assert.ok(Date.now() - t < 100)
  await rejectsWithCode(assert, p.close(100), 'Timeout', 5)
})

test('commitAsync resolves once room appears (the server comes up), and everything arrives', async () => {
  const port = await freePort()
  const p = new Producer(`127.0.0.1:${port}`, { queueBytes: 4096, enqueueTimeoutMs: 30000 })
  const sent = []
  for (;;) {
    const data = `waiting-${sent.length}-${'z'.repeat(900)}`
    try {
      p.commit(1, data)
    } catch (e) {
      if (e.code !== 'QueueFull') throw e
      break
    }
    sent.push(data)
  }
  const last = `after room-${'z'.repeat(900)}` // as large as the one that did not fit
  const pending = p.commitAsync(2, last)
  let settled = false
  pending.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(settled, false, 'commitAsync must wait while the queue is full')
  const s = await server([], port)
  await pending
  await p.close(20000)
  await s.stop()
  const records = await readAll(new Reader(s.dataDir))
  assert.deepEqual(
    records.map((r) => r.data.toString()),
    [...sent, last],
  )
})

test('global SDK: commit throws QueueFull at once, commitAsync rejects QueueFull after its timeout', async () => {
  await rejectsWithCode(assert, msl.commitAsync(1, 'x'), 'NotInitialized', 7)
  msl.init(`127.0.0.1:${await freePort()}`, { queueBytes: 2048, enqueueTimeoutMs: 400 })
  let accepted = 0
  await rejectsWithCode(
    assert,
    () => {
      for (let i = 0; i < 100; i++) {
        msl.commit(1, Buffer.alloc(1000))
        accepted++
      }
    },
    'QueueFull',
    13,
  )
  assert.ok(accepted >= 1 && accepted <= 3, `accepted ${accepted}`)
  await rejectsWithCode(assert, msl.commitAsync(1, 42), 'InvalidArgument', 1)
  const t = Date.now()
  const pending = msl.commitAsync(1, Buffer.alloc(1000))
  const ticks = await ticksDuring(pending)
  await rejectsWithCode(assert, pending, 'QueueFull', 13)
  assert.ok(Date.now() - t >= 300, `commitAsync waited only ${Date.now() - t} ms`)
  assert.ok(ticks >= 15, `the event loop ticked only ${ticks} times`)
  await rejectsWithCode(assert, msl.close(100), 'Timeout', 5)
})

// --- TLS ------------------------------------------------------------------------------

test('TLS options with a plaintext address are refused', async () => {
  for (const addr of ['127.0.0.1:1', 'http://127.0.0.1:1']) {
    await rejectsWithCode(assert, () => new Producer(addr, { tlsCaFile: path.join(certs, 'ca.pem') }), 'InvalidArgument', 1)
    await rejectsWithCode(assert, () => new Producer(addr, { tlsServerName: 'localhost' }), 'InvalidArgument', 1)
  }
  assert.throws(() => new Producer('https://localhost:1', { tlsCaFile: path.join(certs, 'missing.pem') }), (e) =>
    ['NotFound', 'InvalidArgument'].includes(e.code),
  )
  assert.throws(() => new Producer('https://localhost:1', { queueBytes: -1 }), (e) => e.code === 'InvalidArgument')
})

test('the server binary offers TLS (--tls-cert)', () => {
  assert.ok(serverHasTls(), 'modsynclog-server --help lists no --tls-cert: rebuild it (cargo build -p modsynclog-server)')
})

const tlsArgs = () => ['--tls-cert', path.join(certs, 'server.pem'), '--tls-key', path.join(certs, 'server.key')]

test('TLS round trip: https://localhost with tlsCaFile, read back from the data folder', async () => {
  const s = await server(tlsArgs())
  const p = new Producer(`https://localhost:${s.port}`, { tlsCaFile: path.join(certs, 'ca.pem') })
  const sent = []
  for (let i = 0; i < 200; i++) {
    p.commit(7, `tls-${i}`)
    sent.push([7, `tls-${i}`])
  }
  await p.commitAsync(7, 'tls-async')
  sent.push([7, 'tls-async'])
  await p.flush(30000)
  await p.close()
  // an IP address, with the name the certificate carries
  const q = new Producer(`https://127.0.0.1:${s.port}`, { tlsCaFile: path.join(certs, 'ca.pem'), tlsServerName: 'localhost' })
  q.commit(8, 'by ip')
  sent.push([8, 'by ip'])
  await q.close(30000)
  await s.stop()
  const records = await readAll(new Reader(s.dataDir))
  assert.deepEqual(
    records.map((r) => [r.type, r.data.toString()]),
    sent,
  )
})

test('TLS: an untrusted server or a plaintext client delivers nothing', async () => {
  const s = await server(tlsArgs())
  const p = new Producer(`https://localhost:${s.port}`, { tlsCaFile: path.join(certs, 'other-ca.pem') })
  p.commit(1, 'untrusted')
  await assert.rejects(p.flush(2000), (e) => typeof e.code === 'string' && typeof e.errno === 'number')
  const q = new Producer(s.addr)
  q.commit(1, 'plaintext')
  await assert.rejects(q.flush(2000), (e) => typeof e.code === 'string')
  await s.stop()
  assert.deepEqual(await readAll(new Reader(s.dataDir)), [])
})

test('TLS with client certificates (--tls-client-ca)', async () => {
  const s = await server([...tlsArgs(), '--tls-client-ca', path.join(certs, 'ca.pem')])
  const p = new Producer(`https://localhost:${s.port}`, {
    tlsCaFile: path.join(certs, 'ca.pem'),
    tlsCertFile: path.join(certs, 'client.pem'),
    tlsKeyFile: path.join(certs, 'client.key'),
  })
  p.commit(5, 'mutual')
  await p.close(30000)
  const q = new Producer(`https://localhost:${s.port}`, { tlsCaFile: path.join(certs, 'ca.pem') })
  q.commit(5, 'no client certificate')
  await assert.rejects(q.flush(2000))
  await s.stop()
  const records = await readAll(new Reader(s.dataDir))
  assert.deepEqual(
    records.map((r) => r.data.toString()),
    ['mutual'],
  )
})
