//! The native half of `reader.readColumns()`: a batch of records of one day as columns,
//! filled by the core's `Reader::next_columns` and handed to `reader.js` as one `Buffer`,
//! over which `reader.js` makes the typed arrays of the `Columns` object.
//!
//! Why columns next to chunks: a chunk becomes one JavaScript object per record, which a
//! bulk scan (sum the sizes, filter by type, hand the bytes to a decoder) does not need.
//! A batch costs a few napi calls and one copy of its bytes, whatever its record count.
//!
//! The `Buffer`, for `n` records, in native byte order (what typed arrays read):
//! `offsets` (u32 × n+1) at 0, `times` (i32 × n) at `4n + 4`, `types` (i16 × n) at
//! `8n + 4`, zeros up to a multiple of 8, then the payloads. Each view is aligned for its
//! type when the buffer is (V8's backing stores are; `reader.js` copies otherwise). V8
//! owns it, as it owns a chunk (see `Chunk`'s `to_napi_value` in reader.rs for why).
//!
//! As with chunks, records already written are read on the JavaScript thread
//! (`_takeColumns`, no thread hop) and only a wait for new ones goes to the blocking pool
//! (`_waitColumns`), which `close()` ends through the reader's stopper.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use modsynclog_core::columns::{DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS};
use modsynclog_core::{Columns, ErrorKind, Filled};
use napi::bindgen_prelude::{JsObjectValue, Null, Object, ToNapiValue, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;

use crate::convert::timeout_of;
use crate::error::{CoreError, CoreResult, blocking_promise, invalid, js_error, rejected};
use crate::reader::{Reader, ReaderShared, native_bytes, v8_buffer};

/// Options of `reader.readColumns()`.
#[napi(object)]
#[derive(Default)]
pub struct ColumnsOptions {
    /// Most records in a batch (default 16,384).
    pub max_records: Option<f64>,
    /// A batch takes no more records once its payloads reach this many bytes (default
    /// 1 MiB); it always holds at least one record, however large.
    pub max_bytes: Option<f64>,
    /// When following: how long to wait for the first record (default: as long as it
    /// takes), then reject with `Timeout`, as `read(timeoutMs)` does.
    pub timeout_ms: Option<f64>,
}

/// `ColumnsOptions`, checked, with the defaults filled in.
struct Limits {
    records: usize,
    bytes: usize,
    timeout: Option<Duration>,
}

fn limits(options: Option<ColumnsOptions>) -> CoreResult<Limits> {
    let options = options.unwrap_or_default();
    Ok(Limits {
        records: count(options.max_records, DEFAULT_MAX_RECORDS, "maxRecords")?,
        bytes: count(options.max_bytes, DEFAULT_MAX_BYTES, "maxBytes")?,
        timeout: timeout_of(options.timeout_ms)?,
    })
}

fn count(n: Option<f64>, default: usize, what: &str) -> CoreResult<usize> {
    match n {
        None => Ok(default),
        Some(n) if n.fract() == 0.0 && (1.0..=9_007_199_254_740_991.0).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!("{what} {n} is not an integer >= 1"))),
    }
}

/// What `reader.js` gets: a batch object, `null` (the end, or the reader was closed) or
/// `undefined` (no record is there yet: only `_takeColumns` says so).
pub enum Ready {
    Batch(Batch),
    End,
    NotYet,
}

/// A filled batch on its way to JavaScript. Its vectors go back to the reader once copied,
/// so a scan reuses one set instead of growing new ones to about 1 MiB for every batch.
pub struct Batch {
    columns: Columns,
    home: Arc<ReaderShared>,
}

/// Fills a batch, waiting up to `wait` for its first record.
fn fill(shared: &Arc<ReaderShared>, limits: &Limits, wait: Option<Duration>) -> CoreResult<Ready> {
    if shared.closed.load(Ordering::SeqCst) {
        return Ok(Ready::End);
    }
    let mut columns = std::mem::take(&mut *shared.scratch());
    let filled = shared.lock().next_columns(&mut columns, limits.records, limits.bytes, wait);
    let ready = match filled {
        Ok(Filled::Records) => return Ok(Ready::Batch(Batch { columns, home: shared.clone() })),
        Ok(Filled::End) => Ok(Ready::End),
        Ok(Filled::Timeout) => Ok(Ready::NotYet),
        Err(e) => Err(e),
    };
    *shared.scratch() = columns;
    ready
}

impl ToNapiValue for Ready {
    /// A batch is `{ bytes, length, date, firstId }`, `bytes` laid out as the module says.
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let batch = match val {
            // SAFETY (both): called by napi on the JavaScript thread with a live env.
            Ready::End => return unsafe { Null::to_napi_value(raw_env, Null) },
            Ready::NotYet => return unsafe { <()>::to_napi_value(raw_env, ()) },
            Ready::Batch(batch) => batch,
        };
        let env = Env::from_raw(raw_env);
        let c = &batch.columns;
        let head = 10 * c.len() + 4;
        let pad = &[0u8; 8][..head.next_multiple_of(8) - head];
        let parts = [native_bytes(&c.offsets), native_bytes(&c.times), native_bytes(&c.types), pad, &c.data];
        // SAFETY: as above.
        let bytes = unsafe { v8_buffer(raw_env, &parts) }?;
        let mut object = Object::new(&env)?;
        // SAFETY: `bytes` is a live value of this env.
        object.set_named_property("bytes", unsafe { Unknown::from_raw_unchecked(raw_env, bytes) })?;
        object.set_named_property("length", c.len() as f64)?;
        object.set_named_property("date", c.date.map(|d| d.to_string()).unwrap_or_default())?;
        // Ids stay below 2^53 (a day holds far fewer records), so f64 is exact.
        object.set_named_property("firstId", c.first_id as f64)?;
        *batch.home.scratch() = batch.columns;
        Ok(object.raw())
    }
}

#[napi]
impl Reader {
    /// For `reader.js`: a batch of records already written, read on this thread without
    /// waiting (see [`Ready`]). Throws `InvalidArgument` for bad options.
    #[napi(js_name = "_takeColumns", skip_typescript)]
    pub fn take_columns(&self, env: &Env, options: Option<ColumnsOptions>) -> napi::Result<Ready> {
        let fill = || fill(&self.shared, &limits(options)?, Some(Duration::ZERO));
        fill().map_err(|e| js_error(env, &e))
    }

    /// For `reader.js`: a Promise of a batch (or `null`), waiting off the JavaScript thread
    /// for its first record up to `timeoutMs`, then rejecting with `Timeout`. Bad options
    /// reject with `InvalidArgument` before anything is read.
    #[napi(js_name = "_waitColumns", skip_typescript)]
    pub fn wait_columns<'e>(&self, env: &'e Env, options: Option<ColumnsOptions>) -> napi::Result<Object<'e>> {
        let limits = match limits(options) {
            Ok(limits) => limits,
            Err(e) => return rejected(env, e),
        };
        let shared = self.shared.clone();
        blocking_promise(env, move || match fill(&shared, &limits, limits.timeout)? {
            Ready::NotYet => Err(CoreError::new(ErrorKind::Timeout, "no record arrived before the timeout")),
            ready => Ok(ready),
        })
    }

    /// For `reader.js`, which builds a batch itself from records a chunk already holds:
    /// `[maxRecords, maxBytes]` with the defaults filled in. Throws `InvalidArgument` for
    /// bad options (`timeoutMs` included, so every call checks its options the same way).
    #[napi(js_name = "_columnLimits", skip_typescript)]
    pub fn column_limits(&self, env: &Env, options: Option<ColumnsOptions>) -> napi::Result<Vec<f64>> {
        let limits = limits(options).map_err(|e| js_error(env, &e))?;
        Ok(vec![limits.records as f64, limits.bytes as f64])
    }
}
