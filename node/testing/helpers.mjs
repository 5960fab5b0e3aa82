// Test helpers: a real modsynclog-server process on a free port with a temporary folder.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const nodeDir = path.resolve(here, '..')

/** The server binary: $MODSYNCLOG_SERVER_BIN, else ../target/debug/modsynclog-server. */
export function serverBin(profile = 'debug') {
  const bin = process.env.MODSYNCLOG_SERVER_BIN ?? path.resolve(nodeDir, '..', 'target', profile, 'modsynclog-server')
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it or set MODSYNCLOG_SERVER_BIN)`)
  return bin
}

// Every temporary folder a test made is removed when the process exits.
const temporary = new Set()
process.on('exit', () => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true })
})

export function tempDir(prefix = 'msl-node-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  temporary.add(dir)
  return dir
}

/** A TCP port nobody listens on right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

const running = new Set()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `modsynclog-server --data-dir DIR --grpc-addr 127.0.0.1:PORT --sync-addr off
 * --fsync never --utc [args...]` (PORT: `port`, else a free one) and waits until it accepts
 * connections.
 * Returns { addr, port, dataDir, stop(), kill() }; always call kill() in an after() hook.
 */
export async function startServer({ dataDir = tempDir(), bin = serverBin(), args = [], port = undefined } = {}) {
  port ??= await freePort()
  const addr = `127.0.0.1:${port}`
  const child = spawn(
    bin,
    ['--data-dir', dataDir, '--grpc-addr', addr, '--sync-addr', 'off', '--fsync', 'never', '--utc', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  )
  running.add(child)
  let stderr = ''
  child.stderr.on('data', (b) => {
    stderr += b
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  exited.then(() => running.delete(child))
  const deadline = Date.now() + 20000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (${child.exitCode ?? child.signalCode}): ${stderr}`)
    }
    if (await canConnect(port)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not listen on ${addr} in time: ${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    addr,
    port,
    dataDir,
    stderr: () => stderr,
    /** Graceful stop (SIGTERM), SIGKILL after 10 s. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
      const result = await exited
      clearTimeout(timer)
      return result
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Asserts that `promiseOrFn` throws/rejects an Error with this `code` (and numeric errno). */
export async function rejectsWithCode(assert, promiseOrFn, code, errno) {
  let caught
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
  } catch (e) {
    caught = e
  }
  assert.ok(caught instanceof Error, `expected an Error with code ${code}, got ${caught}`)
  assert.equal(caught.code, code, `code of: ${caught.message}`)
  assert.equal(typeof caught.errno, 'number')
  if (errno !== undefined) assert.equal(caught.errno, errno)
  assert.ok(caught.message.length > 0)
  return caught
}

/** Collects every record of a reader with for-await. */
export async function readAll(reader) {
  const out = []
  for await (const r of reader) out.push(r)
  return out
}

/** Today's date in UTC as YYYY-MM-DD (the server runs with --utc). */
export function utcToday() {
  return new Date().toISOString().slice(0, 10)
}

/** Whether the server binary offers TLS (`--tls-cert` in its `--help`). */
export function serverHasTls(bin = serverBin()) {
  return execFileSync(bin, ['--help'], { encoding: 'utf8' }).includes('--tls-cert')
}

/**
 * A temporary folder of test certificates written by `target/debug/modsynclog-testcerts`:
 * ca.pem, server.pem/server.key (localhost, 127.0.0.1), client.pem/client.key,
 * other-ca.pem, expired.pem/expired.key.
 */
export function testCerts() {
  const bin = path.resolve(nodeDir, '..', 'target', 'debug', 'modsynclog-testcerts')
  if (!existsSync(bin)) throw new Error(`${bin} not found: run cargo build -p modsynclog-testcerts`)
  const dir = tempDir('msl-node-certs-')
  execFileSync(bin, [dir], { stdio: 'ignore' })
  return dir
}
