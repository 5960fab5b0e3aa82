//! Node.js bindings of modsynclog (napi-rs): a thin layer of conversions and error mapping
//! over `modsynclog-core`. Nothing here decides anything the core does not.
//!
//! * Errors are thrown (or rejected) as `Error` objects whose `code` is the stable
//!   [`ErrorKind::name`] (`"NotInitialized"`, `"TooLarge"`...) and whose `errno` is the
//!   stable [`ErrorKind::code`] number; the message is the core's.
//! * Everything that can wait (flush, close, reads) runs off the JavaScript thread, on the
//!   napi tokio runtime (async producer waits) or its blocking pool (global SDK waits, file
//!   reads), and settles a `Promise`.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::{Date, ErrorKind, Next, sdk};
use napi::bindgen_prelude::{Array, BufferSlice, Function, JsObjectValue, Null, Object, ToNapiValue, Unknown};
use napi::{Env, JsValue, ValueType, sys};
use napi_derive::napi;

type CoreError = modsynclog_core::Error;
type CoreResult<T> = modsynclog_core::Result<T>;

/// How many records a reader hands to JavaScript per native round trip while iterating.
const ITER_BATCH: u32 = 1024;

// ---------------------------------------------------------------------------------------
// Errors

/// The JavaScript `Error` for a core error: `message`, `code` (kind name), `errno` (number).
/// Must run on the JavaScript thread.
fn js_error(env: &Env, err: &CoreError) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let plain = napi::Error::new(err.kind().name(), err.to_string());
        let value = napi::JsError::from(plain).into_unknown(*env);
        let mut object = value.coerce_to_object()?;
        object.set_named_property("errno", err.code())?;
        Ok(napi::Error::from(value))
    };
    build().unwrap_or_else(|e| e)
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::new(ErrorKind::InvalidArgument, message)
}

/// Runs `fut` on the napi tokio runtime and returns a Promise settled with its outcome
/// (rejections carry the core error's `code`/`errno`).
fn promise<'e, T, F>(env: &'e Env, fut: F) -> napi::Result<Object<'e>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = CoreResult<T>> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    napi::bindgen_prelude::spawn(async move {
        let outcome = fut.await;
        deferred.resolve(move |env: Env| outcome.map_err(|e| js_error(&env, &e)));
    });
    Ok(promise)
}

/// [`promise`] for blocking work: runs `work` on the runtime's blocking pool.
fn blocking_promise<'e, T, W>(env: &'e Env, work: W) -> napi::Result<Object<'e>>
where
    T: ToNapiValue + Send + 'static,
    W: FnOnce() -> CoreResult<T> + Send + 'static,
{
    promise(env, async move {
        napi::bindgen_prelude::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| Err(CoreError::new(ErrorKind::Io, format!("background task failed: {e}"))))
    })
}

// ---------------------------------------------------------------------------------------
// Conversions

/// A timeout in milliseconds from JavaScript; `undefined`/`null` waits forever.
fn timeout_of(ms: Option<f64>) -> CoreResult<Option<Duration>> {
    match ms {
        None => Ok(None),
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Some(Duration::from_secs_f64(ms / 1000.0))),
        Some(ms) => Err(invalid(format!("timeout {ms} ms is not a finite number >= 0"))),
    }
}

/// The timeout of a `close`: 10 s unless given.
fn close_timeout_of(ms: Option<f64>) -> CoreResult<Option<Duration>> {
    match ms {
        None => Ok(Some(sdk::global::CLOSE_TIMEOUT)),
        Some(_) => timeout_of(ms),
    }
}

fn data_type(ty: f64) -> CoreResult<i16> {
    if ty.fract() == 0.0 && ty >= f64::from(i16::MIN) && ty <= f64::from(i16::MAX) {
        Ok(ty as i16)
    } else {
        Err(invalid(format!("record type {ty} is not an integer in -32768..=32767")))
    }
}

/// The payload of a `commit`: a `Buffer`/`Uint8Array` (bytes copied) or a string (UTF-8).
fn payload(env: &Env, value: &Unknown) -> CoreResult<Bytes> {
    let wrong = |what: &str| invalid(format!("record data must be a Buffer, Uint8Array or string, not {what}"));
    let (raw_env, raw) = (env.raw(), value.raw());
    match value.get_type() {
        Ok(ValueType::String) => {
            let mut len = 0usize;
            // SAFETY: `raw` is a string value of this env; a null buffer asks for the length.
            let status = unsafe { sys::napi_get_value_string_utf8(raw_env, raw, std::ptr::null_mut(), 0, &mut len) };
            if status != sys::Status::napi_ok {
                return Err(wrong("an unreadable string"));
            }
            let mut buf = vec![0u8; len + 1];
            let mut written = 0usize;
            // SAFETY: `buf` has room for `len` bytes plus the terminating NUL napi writes.
            let status = unsafe {
                sys::napi_get_value_string_utf8(raw_env, raw, buf.as_mut_ptr().cast(), buf.len(), &mut written)
            };
            if status != sys::Status::napi_ok {
                return Err(wrong("an unreadable string"));
            }
            buf.truncate(written);
            Ok(Bytes::from(buf))
        }
        Ok(ValueType::Object) => {
            let mut is_typed = false;
            // SAFETY: plain type query on a live value.
            let status = unsafe { sys::napi_is_typedarray(raw_env, raw, &mut is_typed) };
            if status != sys::Status::napi_ok || !is_typed {
                return Err(wrong("an object"));
            }
            let mut kind = 0;
            let mut len = 0usize;
            let mut data = std::ptr::null_mut();
            let mut arraybuffer = std::ptr::null_mut();
            let mut offset = 0usize;
            // SAFETY: `raw` is a typed array; napi fills in its element type, length and data.
            let status = unsafe {
                sys::napi_get_typedarray_info(
                    raw_env,
                    raw,
                    &mut kind,
                    &mut len,
                    &mut data,
                    &mut arraybuffer,
                    &mut offset,
                )
            };
            if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
                return Err(wrong("a typed array other than Uint8Array"));
            }
            if len == 0 || data.is_null() {
                return Ok(Bytes::new());
            }
            // SAFETY: napi says `data` points at `len` bytes that live while `raw` does (this call).
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
            Ok(Bytes::copy_from_slice(bytes))
        }
        Ok(ValueType::Undefined) => Err(wrong("undefined")),
        Ok(ValueType::Null) => Err(wrong("null")),
        Ok(ValueType::Number) => Err(wrong("a number")),
        Ok(ValueType::Boolean) => Err(wrong("a boolean")),
        Ok(_) | Err(_) => Err(wrong("this kind of value")),
    }
}

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

// ---------------------------------------------------------------------------------------
// The global SDK

/// Starts the process-wide producer for `addr` (`"host:port"` or `"http://host:port"`).
/// Again with the same address: no-op; with another one: `AlreadyInitialized`.
#[napi]
pub fn init(env: &Env, addr: String) -> napi::Result<()> {
    sdk::global::init(&addr).map_err(|e| js_error(env, &e))
}

/// Queues one record on the global producer; returns at once (does not wait for the
/// network). `data`: Buffer, Uint8Array or string (UTF-8).
#[napi(ts_args_type = "type: number, data: Buffer | Uint8Array | string")]
pub fn commit(env: &Env, ty: f64, data: Unknown) -> napi::Result<()> {
    data_type(ty)
        .and_then(|ty| Ok((ty, payload(env, &data)?)))
        .and_then(|(ty, bytes)| sdk::global::commit(ty, bytes))
        .map_err(|e| js_error(env, &e))
}

/// Resolves once every record committed before the call is acknowledged by the server.
/// Rejects with `Timeout` after `timeoutMs` (default: wait as long as it takes).
#[napi(ts_return_type = "Promise<void>")]
pub fn flush(env: &Env, timeout_ms: Option<f64>) -> napi::Result<Object<'_>> {
    blocking_promise(env, move || sdk::global::flush(timeout_of(timeout_ms)?))
}

/// Flushes (up to `timeoutMs`, default 10 s) and stops the global producer for good.
#[napi(ts_return_type = "Promise<void>")]
pub fn close(env: &Env, timeout_ms: Option<f64>) -> napi::Result<Object<'_>> {
    blocking_promise(env, move || sdk::global::close_timeout(close_timeout_of(timeout_ms)?))
}

// ---------------------------------------------------------------------------------------
// Producer

/// Options of a `Producer`; every field is optional (the core's defaults apply).
#[napi(object)]
#[derive(Default)]
pub struct ProducerOptions {
    /// Sent as `authorization: Bearer <token>` to the native services.
    pub token: Option<String>,
    /// A batch is sent once it holds this many records (default 1000)...
    pub batch_max_records: Option<u32>,
    /// ...or this many payload bytes (default 1 MiB)...
    pub batch_max_bytes: Option<u32>,
    /// ...or its oldest record waited this long (default 5 ms).
    pub linger_ms: Option<f64>,
    /// Records queued and not yet sent before `commit` waits (default 100 000).
    pub queue_capacity: Option<u32>,
    /// How long `commit` waits for room in a full queue before `QueueFull` (default 5000 ms).
    pub enqueue_timeout_ms: Option<f64>,
    /// Speak the legacy unary `grpc_proto_log.Log` service (the Go server).
    pub legacy: Option<bool>,
    /// Largest payload accepted by `commit` (default 4 MiB).
    pub max_record_len: Option<u32>,
}

fn core_options(o: ProducerOptions) -> CoreResult<sdk::ProducerOptions> {
    let mut opts = sdk::ProducerOptions { token: o.token, ..Default::default() };
    if let Some(n) = o.batch_max_records {
        opts.batch_max_records = n as usize;
    }
    if let Some(n) = o.batch_max_bytes {
        opts.batch_max_bytes = n as usize;
    }
    if let Some(ms) = o.linger_ms {
        opts.linger = timeout_of(Some(ms))?.unwrap_or_default();
    }
    if let Some(n) = o.queue_capacity {
        opts.queue_capacity = n as usize;
    }
    if let Some(ms) = o.enqueue_timeout_ms {
        opts.enqueue_timeout = timeout_of(Some(ms))?.unwrap_or_default();
    }
    if let Some(legacy) = o.legacy {
        opts.legacy = legacy;
    }
    if let Some(n) = o.max_record_len {
        opts.max_record_len = n as usize;
    }
    Ok(opts)
}

/// Sends records to a modsynclog server in the background (batched, one stream).
#[napi]
pub struct Producer {
    inner: Arc<sdk::Producer>,
}

#[napi]
impl Producer {
    /// Starts a producer for `addr`. Connects lazily: an unreachable server is retried in
    /// the background, not reported here.
    #[napi(constructor)]
    pub fn new(env: &Env, addr: String, options: Option<ProducerOptions>) -> napi::Result<Self> {
        core_options(options.unwrap_or_default())
            .and_then(|opts| sdk::Producer::connect(&addr, opts))
            .map(|p| Producer { inner: Arc::new(p) })
            .map_err(|e| js_error(env, &e))
    }

    /// Queues one record; returns at once. `Closed` after `close()`, `TooLarge` over the
    /// record limit, `QueueFull` when the queue stays full.
    #[napi(ts_args_type = "type: number, data: Buffer | Uint8Array | string")]
    pub fn commit(&self, env: &Env, ty: f64, data: Unknown) -> napi::Result<()> {
        data_type(ty)
            .and_then(|ty| Ok((ty, payload(env, &data)?)))
            .and_then(|(ty, bytes)| self.inner.commit(ty, bytes))
            .map_err(|e| js_error(env, &e))
    }

    /// Queues every item of `items` (same rules as `commit`) in one native call; returns
    /// how many were queued. Stops at the first bad item, which it throws.
    #[napi(ts_args_type = "type: number, items: Array<Buffer | Uint8Array | string>")]
    pub fn commit_many(&self, env: &Env, ty: f64, items: Array) -> napi::Result<u32> {
        let ty = data_type(ty).map_err(|e| js_error(env, &e))?;
        for i in 0..items.len() {
            let item: Unknown = items.get(i)?.ok_or_else(|| js_error(env, &invalid("missing array item")))?;
            payload(env, &item).and_then(|bytes| self.inner.commit(ty, bytes)).map_err(|e| js_error(env, &e))?;
        }
        Ok(items.len())
    }

    /// Resolves once every record committed before the call is acknowledged.
    /// Rejects with `Timeout` after `timeoutMs` (default: as long as it takes).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush<'e>(&self, env: &'e Env, timeout_ms: Option<f64>) -> napi::Result<Object<'e>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.flush_async(timeout_of(timeout_ms)?).await })
    }

    /// Stops accepting records, waits (up to `timeoutMs`, default 10 s) until everything
    /// is acknowledged, then stops sending.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env, timeout_ms: Option<f64>) -> napi::Result<Object<'e>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.close_async(close_timeout_of(timeout_ms)?).await })
    }
}

// ---------------------------------------------------------------------------------------
// Reader

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
