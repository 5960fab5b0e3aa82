//! `Reader`: walks a store folder (following it if asked), hands its records to
//! JavaScript as objects, and installs its `for await` iterator.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use modsynclog_core::{Date, ErrorKind, Next};
use napi::bindgen_prelude::{Array, BufferSlice, Function, JsObjectValue, Null, Object, ToNapiValue, Unknown};
use napi::{Env, JsValue, sys};
use napi_derive::napi;

use crate::convert::timeout_of;
use crate::error::{CoreError, CoreResult, blocking_promise, invalid, js_error};

/// How many records a reader hands to JavaScript per native round trip while iterating.
const ITER_BATCH: u32 = 1024;

/// One record as a JavaScript object: `{ date, id, time, type, data }`.
fn record_value(env: &Env, r: &modsynclog_core::Record) -> napi::Result<sys::napi_value> {
    let mut object = Object::new(env)?;
    object.set_named_property("date", r.date.to_string())?;
    object.set_named_property("id", r.id as f64)?;
    object.set_named_property("time", r.time)?;
    object.set_named_property("type", i32::from(r.ty))?;
    let data = BufferSlice::copy_from(env, &r.data)?;
    object.set_named_property("data", &data)?;
    Ok(object.raw())
}

/// A record read in the background, turned into an object (or `null`) on the JS thread.
struct MaybeRecord(Option<modsynclog_core::Record>);

impl ToNapiValue for MaybeRecord {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        match &val.0 {
            Some(r) => record_value(&env, r),
            // SAFETY: `env` is the live env this conversion is called with.
            None => unsafe { Null::to_napi_value(env.raw(), Null) },
        }
    }
}

/// Records read in the background, turned into an array on the JS thread.
struct RecordList(Vec<modsynclog_core::Record>);

impl ToNapiValue for RecordList {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let mut array = env.create_array(val.0.len() as u32)?;
        for (i, r) in val.0.iter().enumerate() {
            // SAFETY: `record_value` returns a value of this env.
            let item = unsafe { Unknown::from_raw_unchecked(env.raw(), record_value(&env, r)?) };
            array.set(i as u32, item)?;
        }
        // SAFETY: the array belongs to this env.
        unsafe { Array::to_napi_value(env.raw(), array) }
    }
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
    /// The payload.
    #[napi(ts_type = "Buffer")]
    pub data: Vec<u8>,
}

struct ReaderShared {
    reader: Mutex<modsynclog_core::Reader>,
    stopper: modsynclog_core::Stopper,
    closed: AtomicBool,
}

impl ReaderShared {
    fn lock(&self) -> MutexGuard<'_, modsynclog_core::Reader> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` records: waits (up to `timeout` when following) for the first one only.
    /// Empty at the end (or once closed); `Timeout` when following and nothing came.
    fn read_batch(&self, max: usize, timeout: Option<Duration>) -> CoreResult<Vec<modsynclog_core::Record>> {
        let mut out = VecDeque::new();
        if self.closed.load(Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let mut reader = self.lock();
        match reader.next_record(timeout)? {
            Next::Record(r) => out.push_back(r),
            Next::End => return Ok(Vec::new()),
            Next::Timeout => {
                return Err(CoreError::new(ErrorKind::Timeout, "no record arrived before the timeout"));
            }
        }
        while out.len() < max {
            match reader.next_record(Some(Duration::ZERO)) {
                Ok(Next::Record(r)) => out.push_back(r),
                // An error after some records: hand those over; the next call reports it.
                Ok(_) | Err(_) => break,
            }
        }
        Ok(out.into())
    }
}

/// Walks the records of a store folder in order, from `(date, id)` onwards.
///
/// `for await (const r of reader)` ends after the last record present, unless `follow`
/// is set: then it waits for new records (and days) until `close()` is called.
#[napi]
pub struct Reader {
    shared: Arc<ReaderShared>,
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
                shared: Arc::new(ReaderShared { reader: Mutex::new(reader), stopper, closed: AtomicBool::new(false) }),
            })
        };
        build().map_err(|e| js_error(env, &e))
    }

    /// The next record, or `null` at the end (or once closed). When following, waits up
    /// to `timeoutMs` (default: as long as it takes), then rejects with `Timeout`.
    #[napi(ts_return_type = "Promise<LogRecord | null>")]
    pub fn read<'e>(&self, env: &'e Env, timeout_ms: Option<f64>) -> napi::Result<Object<'e>> {
        let shared = self.shared.clone();
        blocking_promise(env, move || Ok(MaybeRecord(shared.read_batch(1, timeout_of(timeout_ms)?)?.pop())))
    }

    /// Up to `max` records (default 1024) in one call: waits for the first one only (see
    /// `read`). An empty array means the end.
    #[napi(ts_return_type = "Promise<Array<LogRecord>>")]
    pub fn read_batch<'e>(&self, env: &'e Env, max: Option<u32>, timeout_ms: Option<f64>) -> napi::Result<Object<'e>> {
        let max = max.unwrap_or(ITER_BATCH).max(1) as usize;
        let shared = self.shared.clone();
        blocking_promise(env, move || Ok(RecordList(shared.read_batch(max, timeout_of(timeout_ms)?)?)))
    }

    /// Stops the reader: a pending `read`/iteration ends (with `null` / done), later reads
    /// return the end. Safe to call more than once.
    #[napi]
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.stopper.stop();
    }
}

/// Installs `Reader.prototype[Symbol.asyncIterator]`: an iterator that fetches records in
/// batches (`readBatch`) so each `for await` step does not cost a native round trip.
const ASYNC_ITERATOR_JS: &str = r#"(function (Reader) {
  const batch = BATCH
  Object.defineProperty(Reader.prototype, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: function () {
      const reader = this
      let buffer = []
      let index = 0
      let done = false
      return {
        async next() {
          if (index < buffer.length) return { value: buffer[index++], done: false }
          if (done) return { value: undefined, done: true }
          buffer = await reader.readBatch(batch)
          index = 0
          if (buffer.length === 0) {
            done = true
            return { value: undefined, done: true }
          }
          return { value: buffer[index++], done: false }
        },
        async return(value) {
          done = true
          buffer = []
          return { value, done: true }
        },
        [Symbol.asyncIterator]() {
          return this
        },
      }
    },
  })
})"#;

#[napi(module_exports)]
pub fn install_async_iterator(exports: Object, env: Env) -> napi::Result<()> {
    let reader: Unknown = exports.get_named_property("Reader")?;
    let script = ASYNC_ITERATOR_JS.replace("BATCH", &ITER_BATCH.to_string());
    let install: Function<Unknown, ()> = env.run_script(script)?;
    install.call(reader)
}
