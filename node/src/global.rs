//! The global SDK: `init`, `commit`, `commitAsync`, `flush` and `close` on the process-wide
//! producer.

use modsynclog_core::sdk;
use napi::Env;
use napi::bindgen_prelude::{Object, Unknown};
use napi_derive::napi;

use crate::convert::{close_timeout_of, data_type, payload, timeout_of};
use crate::error::{blocking_promise, js_error, promise, rejected};
use crate::producer::{ProducerOptions, core_options};

/// Starts the process-wide producer for `addr` (`"host:port"` or `"http://host:port"`:
/// plaintext; `"https://host:port"`: TLS), with the options of a `Producer`.
/// Again with the same address: no-op (the options are not changed); with another one:
/// `AlreadyInitialized`.
#[napi]
pub fn init(env: &Env, addr: String, options: Option<ProducerOptions>) -> napi::Result<()> {
    core_options(options.unwrap_or_default())
        .and_then(|opts| sdk::global::init_with(&addr, opts))
        .map_err(|e| js_error(env, &e))
}

/// Queues one record on the global producer; returns at once, never blocking the
/// JavaScript thread (throws `QueueFull` at once when the queue is full; `commitAsync`
/// waits for room; `NoSpace` at once, nothing queued, while the server reports a full
/// disk). `data`: Buffer, Uint8Array or string (UTF-8).
#[napi(ts_args_type = "type: number, data: Buffer | Uint8Array | string")]
pub fn commit(env: &Env, ty: f64, data: Unknown) -> napi::Result<()> {
    data_type(ty)
        .and_then(|ty| Ok((ty, payload(env, &data)?)))
        .and_then(|(ty, bytes)| sdk::global::try_commit(ty, bytes))
        .map_err(|e| js_error(env, &e))
}

/// Queues one record on the global producer, waiting (off the JavaScript thread) for room
/// in a full queue for up to `enqueueTimeoutMs`; rejects with `QueueFull` after that.
#[napi(ts_args_type = "type: number, data: Buffer | Uint8Array | string", ts_return_type = "Promise<void>")]
pub fn commit_async<'e>(env: &'e Env, ty: f64, data: Unknown) -> napi::Result<Object<'e>> {
    match data_type(ty).and_then(|ty| Ok((ty, payload(env, &data)?))) {
        Ok((ty, bytes)) => promise(env, sdk::global::commit_async(ty, bytes)),
        Err(e) => rejected(env, e),
    }
}

/// Resolves once every record committed before the call is acknowledged by the server.
/// Rejects with `Timeout` after `timeoutMs` (default: wait as long as it takes), and with
/// `NoSpace` at once while the server reports a full disk (records kept and retried).
#[napi(ts_return_type = "Promise<void>")]
pub fn flush(env: &Env, timeout_ms: Option<f64>) -> napi::Result<Object<'_>> {
    blocking_promise(env, move || sdk::global::flush(timeout_of(timeout_ms)?))
}

/// Flushes (up to `timeoutMs`, default 10 s) and stops the global producer for good.
#[napi(ts_return_type = "Promise<void>")]
pub fn close(env: &Env, timeout_ms: Option<f64>) -> napi::Result<Object<'_>> {
    blocking_promise(env, move || sdk::global::close_timeout(close_timeout_of(timeout_ms)?))
}
