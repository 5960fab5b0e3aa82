// Follower: a reader that follows a store folder (a server's --data-dir, or a replica's)
// and prints each new record as it arrives: `date id type len payload`, the payload as
// text when it is printable ASCII, else `hex:...`. Records already there are skipped.
// Stops after N records, or on Ctrl-C (reader.close() ends the `for await`).
//
//   node examples/follower.mjs DATA_DIR [N]
import { Reader } from 'modsynclog'

const [dir, n] = process.argv.slice(2)
if (!dir) {
  console.error('usage: follower.mjs DATA_DIR [N]')
  process.exit(2)
}
const limit = n === undefined ? -1 : Number(n)

// Skip what is there: read to the end once, then follow from the record after the last.
let last = null
for await (const r of new Reader(dir)) last = r
const reader = last ? new Reader(dir, last.date, last.id + 1, { follow: true }) : new Reader(dir, null, 0, { follow: true })
process.once('SIGINT', () => reader.close())

console.error(`following ${dir}`)
let count = 0
if (limit !== 0) {
  for await (const r of reader) {
    const printable = r.data.every((b) => b >= 0x20 && b < 0x7f)
    const text = printable ? r.data.toString('latin1') : 'hex:' + r.data.toString('hex')
    console.log(r.date, r.id, r.type, r.data.length, text)
    if (++count === limit) break
  }
}
reader.close()
process.removeAllListeners('SIGINT')
console.error(`stopped after ${count} records`)
