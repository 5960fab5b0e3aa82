// Commits N records of type 13 through the Node SDK (same payload shape as writer.c).
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const msl = require(process.env.MODSYNCLOG_NODE ?? 'modsynclog')

const [addr, n] = [process.argv[2], Number(process.argv[3])]
msl.init(addr)
for (let i = 0; i < n; i++) {
  const tail = Buffer.from(Array.from({ length: i % 40 }, (_, j) => (i * 7 + j) % 256))
  msl.commit(13, Buffer.concat([Buffer.from(`node:${i}:`), tail]))
}
await msl.flush(60000)
await msl.close()
