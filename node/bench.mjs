// Benchmark (figures only, no assertions): acknowledged commits/s from one JS thread with
// 100-byte records, and Reader scan rate over 1,000,000 records, against a release server.
//
//   node bench.mjs            (env: MODSYNCLOG_SERVER_BIN, BENCH_N = commits per run)
//
// For scripts/bench-sdk.sh (issue 13), one case each, printing `RESULT <what> <rate>`:
//   node bench.mjs --sdk-commit ADDR     a default Producer: 10,000 records + flush to warm
//                                        up, then BENCH_N commit(Buffer) (commitAsync when
//                                        QueueFull) + flush; acknowledged records/s
//   node bench.mjs --sdk-scan DIR [P]    `for await` over new Reader(DIR) summing
//                                        r.data.length, P passes (default 3); best records/s
//   node bench.mjs --sdk-scan-columns DIR [P]   the same scan with readColumns() batches
//                                        (defaults), summing b.length and b.data.length
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { Producer, Reader } from 'modsynclog'
import { nodeDir, startServer } from './testing/helpers.mjs'

const N = Number(process.env.BENCH_N ?? 1_000_000)
const [mode, arg, passes] = process.argv.slice(2)
if (mode === '--sdk-commit') {
  const p = new Producer(arg)
  const record = Buffer.alloc(100, 0x61)
  const commit = async (n) => {
    for (let i = 0; i < n; i++) {
      try {
        p.commit(1101, record)
      } catch (e) {
        if (e.code !== 'QueueFull') throw e
        await p.commitAsync(1101, record) // commit never blocks: wait for room
      }
    }
    await p.flush()
  }
  await commit(10_000) // warm-up: connection, stream
  const t0 = process.hrtime.bigint()
  await commit(N)
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  await p.close()
  console.log(`Node Producer, default options: ${N} x 100 B acknowledged in ${s.toFixed(3)} s`)
  console.log(`RESULT commit ${Math.round(N / s)}`)
  process.exit(0)
}
// Times P scans of a Reader of `arg` opened inside the timing (`scan` resolves [records,
// bytes]); prints each pass and `RESULT <what> <best records/s>`.
async function timePasses(what, label, scan) {
  let best = 0
  for (let pass = 1; pass <= Number(passes ?? 3); pass++) {
    const t0 = process.hrtime.bigint()
    const [n, bytes] = await scan(new Reader(arg))
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`Node Reader ${label} scan, pass ${pass}: ${n} records, ${bytes} B in ${s.toFixed(3)} s`)
    best = Math.max(best, n / s)
  }
  console.log(`RESULT ${what} ${Math.round(best)}`)
  process.exit(0)
}
if (mode === '--sdk-scan') {
  await timePasses('scan', 'for-await', async (reader) => {
    let n = 0
    let bytes = 0
    for await (const r of reader) {
      n++
      bytes += r.data.length
    }
    return [n, bytes]
  })
}
if (mode === '--sdk-scan-columns') {
  await timePasses('scan-columns', 'readColumns', async (reader) => {
    let n = 0
    let bytes = 0
    for (let b; (b = await reader.readColumns()) !== null; ) {
      n += b.length
      bytes += b.data.length
    }
    return [n, bytes]
  })
}
const SCAN = 1_000_000
const repo = path.resolve(nodeDir, '..')
let bin = process.env.MODSYNCLOG_SERVER_BIN ?? path.join(repo, 'target', 'release', 'modsynclog-server')
if (!existsSync(bin)) {
  console.log('building the release server (cargo build --release -p modsynclog-server)...')
  execFileSync('cargo', ['build', '--release', '-p', 'modsynclog-server'], { cwd: repo, stdio: 'inherit' })
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')
const server = await startServer({ bin })
console.log(`server ${bin} on ${server.addr}, data ${server.dataDir}`)
let total = 0

async function run(name, body) {
  const p = new Producer(server.addr)
  // warm up: connection and stream
  p.commit(1, Buffer.alloc(100))
  await p.flush(10000)
  total += 1
  const t0 = process.hrtime.bigint()
  const t1 = await body(p)
  await p.flush(120000)
  const t2 = process.hrtime.bigint()
  await p.close()
  total += N
  const s = Number(t2 - t0) / 1e9
  const sc = Number(t1 - t0) / 1e9
  console.log(
    `${name.padEnd(34)} ${fmt(N / s).padStart(11)} acked commits/s  (${s.toFixed(3)} s for ${fmt(N)}; commit calls alone ${fmt(N / sc)}/s)`,
  )
}

try {
  const record = Buffer.alloc(100, 0x61)
  const text = 'b'.repeat(100)
  // commit never blocks: on a full queue (QueueFull) wait for room with commitAsync.
  const full = (e) => {
    if (e.code !== 'QueueFull') throw e
  }
  await run('commit(Buffer 100 B) + flush', async (p) => {
    for (let i = 0; i < N; i++) {
      try {
        p.commit(1101, record)
      } catch (e) {
        full(e)
        await p.commitAsync(1101, record)
      }
    }
    return process.hrtime.bigint()
  })
  await run('commit(string 100 B) + flush', async (p) => {
    for (let i = 0; i < N; i++) {
      try {
        p.commit(1101, text)
      } catch (e) {
        full(e)
        await p.commitAsync(1101, text)
      }
    }
    return process.hrtime.bigint()
  })
  const batch = new Array(1000).fill(record)
  await run('commitMany(1000 x Buffer) + flush', async (p) => {
    for (let i = 0; i < N; ) {
      try {
        i += p.commitMany(1101, N - i >= batch.length ? batch : batch.slice(0, N - i))
      } catch (e) {
        full(e)
        i += e.queued
        await p.commitAsync(1101, record) // waits for room
        i++
      }
    }
    return process.hrtime.bigint()
  })
  await server.stop()

  // Reader scans (the server is stopped: nothing else uses the CPU).
  {
    let n = 0
    let bytes = 0
    const t0 = process.hrtime.bigint()
    for await (const r of new Reader(server.dataDir)) {
      bytes += r.data.length
      if (++n === SCAN) break
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`${'Reader for-await scan'.padEnd(34)} ${fmt(n / s).padStart(11)} records/s        (${s.toFixed(3)} s for ${fmt(n)}, ${fmt(bytes)} B)`)
  }
  {
    let n = 0
    const reader = new Reader(server.dataDir)
    const t0 = process.hrtime.bigint()
    while (n < SCAN) {
      const batch = await reader.readBatch(4096)
      if (batch.length === 0) break
      n += batch.length
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`${'Reader readBatch(4096) scan'.padEnd(34)} ${fmt(n / s).padStart(11)} records/s        (${s.toFixed(3)} s for ${fmt(n)})`)
  }
  {
    const n = Math.min(SCAN, 100_000)
    const reader = new Reader(server.dataDir)
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await reader.read()
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`${'Reader read() one by one'.padEnd(34)} ${fmt(n / s).padStart(11)} records/s        (${s.toFixed(3)} s for ${fmt(n)})`)
  }
  console.log(`(${fmt(total)} records stored)`)
} finally {
  server.kill()
  server.cleanup()
}
