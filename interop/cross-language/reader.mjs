// Prints every record of a store folder as "DATE ID TIME TYPE HEX".
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const msl = require(process.env.MODSYNCLOG_NODE ?? 'modsynclog')

const lines = []
for await (const r of new msl.Reader(process.argv[2])) {
  lines.push(`${r.date} ${r.id} ${r.time} ${r.type} ${r.data.toString('hex')}\n`)
}
process.stdout.write(lines.join(''))
