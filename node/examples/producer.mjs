// Producer: a Producer with explicit options, and what to do with each error code.
//
// Commits N records (type 1201, JSON), then flushes with a timeout and reports what the
// server acknowledged. MODSYNCLOG_TOKEN (a bearer token) and MODSYNCLOG_CA (the CA file of
// an https:// server) are used when set.
//
// * QueueFull: `commit` never blocks the event loop and throws it at once; `commitAsync`
//   waits (off the JavaScript thread) up to enqueueTimeoutMs for room. Retry.
// * NoSpace (the server's disk is full; the producer keeps its records): report, retry later.
// * Unauthenticated / PermissionDenied: final, nothing can help; exit with status 3.
//
//   node examples/producer.mjs [ADDR [N]]      (default 127.0.0.1:1235 1000)
import { setTimeout as sleep } from 'node:timers/promises'
import { Producer } from 'modsynclog'

const addr = process.argv[2] ?? '127.0.0.1:1235'
const n = Number(process.argv[3] ?? 1000)

// Reports an error; refused credentials exit with 3, anything else with 1.
function fail(e) {
  console.error(`error ${e.errno} (${e.code}): ${e.message}`)
  process.exit(['Unauthenticated', 'PermissionDenied'].includes(e.code) ? 3 : 1)
}

// Commits one record, waiting and retrying while the queue is full or the disk is.
async function commitRetrying(producer, type, data) {
  for (;;) {
    try {
      try {
        producer.commit(type, data) // the fast path: throws QueueFull at once when full
      } catch (e) {
        if (e.code !== 'QueueFull') throw e
        await producer.commitAsync(type, data) // waits for room, up to enqueueTimeoutMs
      }
      return
    } catch (e) {
      if (e.code === 'QueueFull') continue // still full: try again
      if (e.code !== 'NoSpace') throw e
      console.error(`server disk full, retrying in 1 s: ${e.message}`)
      await sleep(1000)
    }
  }
}

async function main() {
  const producer = new Producer(addr, {
    queueBytes: 1 << 20, // at most 1 MiB of payloads waiting to be sent
    lingerMs: 10, // batch what comes within 10 ms
    enqueueTimeoutMs: 2000, // commitAsync waits this long for room, then QueueFull
    token: process.env.MODSYNCLOG_TOKEN, // undefined: none
    tlsCaFile: process.env.MODSYNCLOG_CA, // for https://
  })
  for (let i = 0; i < n; i++) {
    await commitRetrying(producer, 1201, JSON.stringify({ lang: 'node', i }))
  }

  // Wait up to 30 s for the acknowledgements; a full disk is retried until then.
  const deadline = Date.now() + 30000
  for (;;) {
    const left = Math.max(0, deadline - Date.now())
    try {
      await producer.flush(left)
      break
    } catch (e) {
      if (e.code !== 'NoSpace' || left === 0) throw e
      console.error('server disk full, flushing again in 1 s')
      await sleep(1000)
    }
  }
  await producer.close()
  console.log(`committed ${n} records, acknowledged ${n}`) // flush resolved: all acknowledged
}

main().catch(fail)
