//! `Reader`: walks a store folder (following it if asked) and hands its records to
//! JavaScript in packed chunks, which `reader.js` turns into record objects.
//!
//! Why chunks: building each record as an object with its own `Buffer` in the addon cost
//! about 3 µs a record (one napi call per field and one backing store per payload). A
//! chunk is one `Buffer` holding `(id, time, type, end offset)` per record as f64s, then
//! the payloads back to back; `reader.js` builds `{ date, id, time, type, data }` from it
//! in JavaScript, `data` being a view into the chunk.
//!
//! Why two ways to fill one: records already written are read on the JavaScript thread
//! (`_take`, no thread hop: the reader never waits there, and a chunk is bounded in records
//! and bytes), and only a wait for records not written yet goes to the blocking pool
//! (`_wait`). The public methods (`read`, `readBatch`, `close`, the async iterator) are
//! defined in `reader.js` and typed in `dts-header.d.ts`; `readColumns`'s native half,
//! which hands over columns instead of chunks, is in `columns.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use modsynclog_core::{Columns, Date, ErrorKind, Next, Record};
use napi::bindgen_prelude::{Function, JsObjectValue, Object, ToNapiValue, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;

use crate::convert::timeout_of;
use crate::error::{CoreError, CoreResult, blocking_promise, invalid, js_error};

/// Records per chunk when the caller does not say (and the iterator's chunk size).
const CHUNK_RECORDS: u32 = 1024;
/// Most records one chunk holds, whatever the caller asks.
const MAX_CHUNK_RECORDS: usize = 65_536;
/// A chunk stops taking records once its payloads reach this many bytes (it always holds
/// at least one record, so a record larger than this still passes).
const CHUNK_BYTES: usize = 1 << 20;

/// Records packed for `reader.js`: payloads back to back, four numbers per record, and the
/// days as runs (`dates[k]` starts at record `starts[k]`). `end`: no record follows (the
/// last day of a reader that does not follow was read, or the reader was closed).
#[derive(Default)]
pub struct Chunk {
    data: Vec<u8>,
    meta: Vec<f64>,
    dates: Vec<String>,
    starts: Vec<u32>,
    end: bool,
    last_date: Option<Date>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.meta.len() / 4
    }

    fn full(&self, max: usize) -> bool {
        self.len() >= max || self.data.len() >= CHUNK_BYTES
    }

    fn push(&mut self, r: &Record) {
        if self.last_date != Some(r.date) {
            self.last_date = Some(r.date);
            self.dates.push(r.date.to_string());
            self.starts.push(self.len() as u32);
        }
        self.data.extend_from_slice(&r.data);
        // Ids stay below 2^53 (a day holds far fewer records), so f64 is exact.
        self.meta.extend([r.id as f64, f64::from(r.time), f64::from(r.ty), self.data.len() as f64]);
    }
}

impl ToNapiValue for Chunk {
    /// `{ bytes, count, dates, starts, end }`: `bytes` holds the `count * 4` numbers (native
    /// f64s, read through a `Float64Array` view) and then the payloads. One `Buffer` that
    /// V8 allocates and frees itself: an external buffer over the `Vec` would be freed by
    /// a napi finalizer, which Node runs only on a later turn of the event loop, so a
    /// `for await` over a large store (never leaving the microtask queue) would hold every
    /// chunk it read until it ended.
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        // SAFETY: called on the JavaScript thread with a live env.
        let bytes = unsafe { v8_buffer(raw_env, &[native_bytes(&val.meta), &val.data]) }?;
        let mut object = Object::new(&env)?;
        // SAFETY: `bytes` is a live value of this env.
        object.set_named_property("bytes", unsafe { Unknown::from_raw_unchecked(raw_env, bytes) })?;
        object.set_named_property("count", val.len() as u32)?;
        object.set_named_property("dates", val.dates)?;
        object.set_named_property("starts", val.starts)?;
        object.set_named_property("end", val.end)?;
        Ok(object.raw())
    }
}

/// A `Buffer` that V8 allocates and frees itself, holding `parts` back to back (what
/// chunks and columns hand to `reader.js`; see [`Chunk`]'s `to_napi_value` for why not an
/// external buffer).
///
/// # Safety
/// `raw_env` must be the live env of the JavaScript thread this runs on.
pub(crate) unsafe fn v8_buffer(raw_env: sys::napi_env, parts: &[&[u8]]) -> napi::Result<sys::napi_value> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut at = std::ptr::null_mut();
    let mut bytes = std::ptr::null_mut();
    // SAFETY: napi allocates `len` writable bytes at `at`, owned by the new Buffer.
    let status = unsafe { sys::napi_create_buffer(raw_env, len, &mut at, &mut bytes) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(format!("cannot allocate a Buffer of {len} bytes")));
    }
    let mut to = at.cast::<u8>();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        // SAFETY: the parts sum to `len`, so `to` has room for this one; napi's fresh
        // memory does not overlap them.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), to, part.len());
            to = to.add(part.len());
        }
    }
    Ok(bytes)
}

/// Numbers whose memory is only their value's bytes (no padding, any byte pattern valid).
///
/// # Safety
/// Implement only for such types.
pub(crate) unsafe trait Plain: Copy {}
// SAFETY: primitive numbers.
unsafe impl Plain for f64 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for i32 {}
// SAFETY: as above.
unsafe impl Plain for i16 {}

/// The bytes of `numbers` in native order (what a typed array over them reads).
pub(crate) fn native_bytes<T: Plain>(numbers: &[T]) -> &[u8] {
    // SAFETY: `Plain` types have no padding and every byte is a valid u8; the slice covers
    // exactly the numbers' memory.
    unsafe { std::slice::from_raw_parts(numbers.as_ptr().cast::<u8>(), std::mem::size_of_val(numbers)) }
}

/// Options of a `Reader`.
#[napi(object)]
#[derive(Default)]
pub struct ReaderOptions {
    /// Keep waiting for new records and days instead of ending after the last one.
    pub follow: Option<bool>,
}

/// One log record as readers see it.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct LogRecord {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The record's number within its day (from 0); always below 2^53.
    pub id: f64,
    /// Unix seconds, as stored.
    pub time: i32,
    /// The data type (int16).
    #[napi(js_name = "type")]
    pub ty: i32,
    /// The payload: a view into a buffer shared with the records read with it.
    #[napi(ts_type = "Buffer")]
    pub data: Vec<u8>,
}

pub(crate) struct ReaderShared {
    reader: Mutex<modsynclog_core::Reader>,
    stopper: modsynclog_core::Stopper,
    pub(crate) closed: AtomicBool,
    /// The vectors of the last `readColumns` batch, kept for the next one (see columns.rs).
    scratch: Mutex<Columns>,
}

impl ReaderShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, modsynclog_core::Reader> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn scratch(&self) -> MutexGuard<'_, Columns> {
        self.scratch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` records: waits up to `first` (`None`: as long as it takes) for the first
    /// one, and takes the others only if already there. When none came: `Timeout` if
    /// `must_have`, otherwise an empty chunk that is not `end` (none is ready yet).
    fn fill(&self, max: usize, first: Option<Duration>, must_have: bool) -> CoreResult<Chunk> {
        let mut chunk = Chunk::default();
        if self.closed.load(Ordering::SeqCst) {
            chunk.end = true;
            return Ok(chunk);
        }
        let max = max.clamp(1, MAX_CHUNK_RECORDS);
        let mut reader = self.lock();
        let mut wait = first;
        while !chunk.full(max) {
            match reader.next_record(wait) {
                Ok(Next::Record(r)) => chunk.push(&r),
                Ok(Next::End) => {
                    chunk.end = true;
                    break;
                }
                Ok(Next::Timeout) if chunk.len() == 0 && must_have => {
                    return Err(CoreError::new(ErrorKind::Timeout, "no record arrived before the timeout"));
                }
                Ok(Next::Timeout) => break,
                Err(e) if chunk.len() == 0 => return Err(e),
                // An error after some records: hand those over; the next call reports it.
                Err(_) => break,
            }
            wait = Some(Duration::ZERO);
        }
        Ok(chunk)
    }
}

fn chunk_max(max: Option<u32>) -> usize {
    max.unwrap_or(CHUNK_RECORDS) as usize
}

/// Walks the records of a store folder in order, from `(date, id)` onwards.
///
/// `for await (const r of reader)` ends after the last record present, unless `follow`
/// is set: then it waits for new records (and days) until `close()` is called.
#[napi]
pub struct Reader {
    pub(crate) shared: Arc<ReaderShared>,
}

#[napi]
impl Reader {
    /// `dir`: the store folder (must exist: `NotFound` otherwise). `date`: `YYYY-MM-DD` to
    /// start at (default: the earliest day). `id`: the record of that day to start at.
    #[napi(constructor)]
    pub fn new(
        env: &Env,
        dir: String,
        date: Option<String>,
        id: Option<f64>,
        options: Option<ReaderOptions>,
    ) -> napi::Result<Self> {
        let build = || -> CoreResult<Reader> {
            let id = match id {
                None => 0,
                Some(id) if id.fract() == 0.0 && (0.0..9.007_199_254_740_992e15).contains(&id) => id as u64,
                Some(id) => return Err(invalid(format!("record id {id} is not an integer >= 0"))),
            };
            let mut reader = modsynclog_core::Reader::open(&dir)?;
            reader = match date {
                Some(d) => reader.from(Date::parse(&d)?, id),
                None => reader.from_id(id),
            };
            let reader = reader.follow(options.unwrap_or_default().follow.unwrap_or(false));
            let stopper = reader.stopper();
            Ok(Reader {
                shared: Arc::new(ReaderShared {
                    reader: Mutex::new(reader),
                    stopper,
                    closed: AtomicBool::new(false),
                    scratch: Mutex::default(),
                }),
            })
        };
        build().map_err(|e| js_error(env, &e))
    }

    /// For `reader.js`: a chunk of up to `max` records already written, read on this
    /// thread without waiting; empty (and not `end`) when none is ready.
    #[napi(js_name = "_take", skip_typescript)]
    pub fn take(&self, env: &Env, max: Option<u32>) -> napi::Result<Chunk> {
        self.shared.fill(chunk_max(max), Some(Duration::ZERO), false).map_err(|e| js_error(env, &e))
    }

    /// For `reader.js`: a Promise of a chunk, waiting off the JavaScript thread for its
    /// first record up to `timeoutMs` (default: as long as it takes), then `Timeout`. A bad
    /// `timeoutMs` rejects with `InvalidArgument` before anything is read.
    #[napi(js_name = "_wait", skip_typescript)]
    pub fn wait<'e>(&self, env: &'e Env, max: Option<u32>, timeout_ms: Option<f64>) -> napi::Result<Object<'e>> {
        let shared = self.shared.clone();
        let max = chunk_max(max);
        blocking_promise(env, move || shared.fill(max, timeout_of(timeout_ms)?, true))
    }

    /// For `reader.js`: stops the reader (a pending `_wait` returns an empty `end` chunk,
    /// later fills too). Safe to call more than once.
    #[napi(js_name = "_close", skip_typescript)]
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.stopper.stop();
    }
}

/// Installs the public reading methods of `Reader` (see `reader.js`).
pub(crate) fn install(exports: &Object, env: &Env) -> napi::Result<()> {
    let reader: Unknown = exports.get_named_property("Reader")?;
    let script = include_str!("reader.js")
        .replace("__CHUNK_RECORDS__", &CHUNK_RECORDS.to_string())
        .replace("__MAX_CHUNK_RECORDS__", &MAX_CHUNK_RECORDS.to_string());
    let install: Function<Unknown, ()> = env.run_script(script)?;
    install.call(reader)
}
