//! The global SDK: `init`, `commit`, `flush` and `close` on the process-wide producer.

use modsynclog_core::sdk;
use napi::Env;
use napi::bindgen_prelude::{Object, Unknown};
use napi_derive::napi;

use crate::convert::{close_timeout_of, data_type, payload, timeout_of};
use crate::error::{blocking_promise, js_error};

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
