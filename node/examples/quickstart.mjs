// Quickstart: the global SDK. Connects to a server, commits a few records, waits until
// the server acknowledged them, and prints how many were committed.
//
//   node examples/quickstart.mjs [ADDR]      (default 127.0.0.1:1235)
//
// The same example exists in Rust, C, Python and Go (see scripts/examples.sh).
import { init, commit, flush, close } from 'modsynclog'

const COUNT = 3
const addr = process.argv[2] ?? '127.0.0.1:1235'

init(addr) // once per process; connects in the background
for (let i = 0; i < COUNT; i++) {
  commit(1101, `hello from node ${i}`) // only queues (type 1101: app log)
}
await flush(10000) // the server has them all now
await close()
console.log(`committed ${COUNT} records`)
