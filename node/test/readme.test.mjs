// Runs the Quickstart block of README.md, as written, against a real server.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { nodeDir, startServer } from '../testing/helpers.mjs'

let server
// Inside the package folder, so `require('modsynclog')` resolves to this package (self-reference).
const script = path.join(nodeDir, 'testing', `quickstart-${process.pid}.cjs`)

before(async () => {
  server = await startServer()
})

after(() => {
  server?.kill()
  server?.cleanup()
  rmSync(script, { force: true })
})

test('the README quickstart runs and prints what it says', async () => {
  const readme = readFileSync(path.join(nodeDir, 'README.md'), 'utf8')
  const block = readme.match(/<!-- quickstart:begin[^>]*-->\s*```js\n([\s\S]*?)```\s*<!-- quickstart:end -->/)
  assert.ok(block, 'README.md has a quickstart block')
  writeFileSync(script, block[1])
  const { stdout } = await promisify(execFile)(process.execPath, [script], {
    env: { ...process.env, MODSYNCLOG_ADDR: server.addr, MODSYNCLOG_DATA_DIR: server.dataDir },
    timeout: 60000,
  })
  const lines = stdout.trim().split('\n')
  const hex = (s) => Buffer.from(s).toString('hex')
  assert.equal(lines.length, 5, stdout)
  const rest = lines.slice(0, 4).map((l) => l.split(' ').slice(1).join(' '))
  assert.deepEqual(rest, [`0 1101 ${hex('hello from node')}`, '1 1001 010203', `2 1201 ${hex('{"a":1}')}`, `3 1201 ${hex('{"a":2}')}`])
  assert.equal(lines[4], 'error Closed 6')
})
