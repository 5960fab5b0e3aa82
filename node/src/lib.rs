//! Node.js bindings of modsynclog (napi-rs): a thin layer of conversions and error mapping
//! over `modsynclog-core`. Nothing here decides anything the core does not.
//!
//! * Errors are thrown (or rejected) as `Error` objects whose `code` is the stable
//!   [`ErrorKind::name`](modsynclog_core::ErrorKind::name) (`"NotInitialized"`, `"TooLarge"`...) and whose `errno` is the
//!   stable [`ErrorKind::code`](modsynclog_core::ErrorKind::code) number; the message is the core's.
//! * The JavaScript thread never blocks: `commit` never waits (`QueueFull` at once on a
//!   full queue), and everything that can wait (`commitAsync`, flush, close, reads) runs
//!   off the JavaScript thread, on the napi tokio runtime (async producer waits) or its
//!   blocking pool (global SDK waits, file reads), and settles a `Promise`.
//!
//! Modules: `error` (core errors as JavaScript errors, and promises settled with core
//! results), `convert` (timeouts, record types and payloads from JavaScript values),
//! `global` (the process-wide SDK functions), `producer` (`Producer` and its options),
//! `reader` (`Reader` and the packed chunks of records it hands to `reader.js`, which
//! defines its reading methods and async iterator) and `columns` (the batches of
//! `readColumns`, as columns).

mod columns;
mod convert;
mod error;
mod global;
mod producer;
mod reader;

pub use columns::ColumnsOptions;
pub use global::{close, commit, commit_async, flush, init};
pub use producer::{Producer, ProducerOptions};
pub use reader::{LogRecord, Reader, ReaderOptions};

use napi::Env;
use napi::bindgen_prelude::Object;
use napi_derive::napi;

/// Installs what the addon defines in JavaScript when it loads: `Reader`'s reading
/// methods (`reader.js`) and `Producer.prototype.commit` (`producer.js`).
#[napi(module_exports)]
pub fn install_js(exports: Object, env: Env) -> napi::Result<()> {
    reader::install(&exports, &env)?;
    producer::install(&exports, &env)
}
