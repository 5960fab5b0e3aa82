// The Node SDK against a server whose disk fills up (scripts/full-disk.sh).
//
//   node writer.mjs ADDR TAG DIR PAD BATCH FLUSH_EVERY   (MODSYNCLOG_NODE: the node/ folder)
//
// Same steps and output as writer.c: once DIR/start exists, records of type 13,
// "TAG:<i>:" then PAD bytes 'n', flushed every FLUSH_EVERY, until commit throws or flush
// rejects with code NoSpace (at once, not after the flush's 60 s timeout); then, once
// DIR/freed exists, flush until the kept records are delivered, 200 more records, flush.
// The last line is `RESULT tag=... total=N`.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
const require = createRequire(import.meta.url)
const msl = require(process.env.MODSYNCLOG_NODE ?? 'modsynclog')

const [addr, tag, signals] = process.argv.slice(2, 5)
const [pad, batch, flushEvery] = process.argv.slice(5, 8).map(Number)
const TYPE = 13
const MORE = 200
const record = (i) => Buffer.concat([Buffer.from(`${tag}:${i}:`), Buffer.alloc(pad, 'n')])
const now = () => performance.now() / 1000
const fail = (message) => {
  console.log(`FAIL ${tag}: ${message}`)
  process.exit(1)
}

const waitFor = async (name) => {
  const deadline = now() + 180
  while (!existsSync(`${signals}/${name}`)) {
    if (now() > deadline) fail(`${signals}/${name} never appeared`)
    await sleep(100)
  }
}

msl.init(addr, { batchMaxRecords: batch })
console.log(`${tag}: ready`)
await waitFor('start')
let i = 0
let acked = 0
let took = 0
let source = null
let error = null
while (source === null) {
  if (i > 1_000_000) fail('1,000,000 records acknowledged and the disk never filled')
  try {
    msl.commit(TYPE, record(i))
  } catch (e) {
    if (e.code !== 'NoSpace') fail(`commit threw ${e.code}: ${e.message}`)
    source = 'commit'
    error = e
    break
  }
  i++
  if (i % flushEvery === 0) {
    const t = now()
    try {
      await msl.flush(60000)
      acked = i
    } catch (e) {
      if (e.code !== 'NoSpace') fail(`flush rejected with ${e.code}: ${e.message}`)
      source = 'flush'
      error = e
    }
    took = now() - t
  }
}
if (error.errno !== 16) fail(`errno ${error.errno}, expected 16`)
const committed = i
console.log(`${tag}: NoSpace from ${source} after ${took.toFixed(3)} s: ${acked} records acknowledged before the error, ${committed} committed`)
console.log(`${tag}: message: ${error.message}`)
if (took > 5) fail(`the full disk was reported after ${took.toFixed(1)} s, not at once`)

await waitFor('freed')
const t = now()
for (;;) {
  try {
    await msl.flush(60000)
    break
  } catch (e) {
    if (e.code !== 'NoSpace') fail(`flush after freeing space rejected with ${e.code}: ${e.message}`)
    if (now() - t > 60) fail('still NoSpace 60 s after space was freed')
    await sleep(250)
  }
}
console.log(`${tag}: delivered the ${committed - acked} records kept since the disk filled, ${(now() - t).toFixed(1)} s after space was freed`)
for (let end = i + MORE; i < end; i++) msl.commit(TYPE, record(i))
await msl.flush(60000)
await msl.close()
console.log(`RESULT tag=${tag} acked_at_error=${acked} committed_at_error=${committed} error_from=${source} total=${i}`)
