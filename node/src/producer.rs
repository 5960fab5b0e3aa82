//! `Producer`: sends records to a server in the background, and its `ProducerOptions`.

use std::sync::Arc;

use modsynclog_core::sdk;
use napi::Env;
use napi::bindgen_prelude::{Array, Object, Unknown};
use napi_derive::napi;

use crate::convert::{close_timeout_of, data_type, payload, timeout_of};
use crate::error::{CoreResult, invalid, js_error, promise};

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
