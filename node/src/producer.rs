//! `Producer`: sends records to a server in the background, and its `ProducerOptions`.

use std::path::PathBuf;
use std::sync::Arc;

use modsynclog_core::sdk;
use modsynclog_core::tls::ClientTls;
use napi::Env;
use napi::bindgen_prelude::{Array, External, Function, JsObjectValue, Object, Unknown};
use napi_derive::napi;

use crate::convert::{byte_count, close_timeout_of, data_type, payload, timeout_of};
use crate::error::{CoreResult, invalid, js_error, js_error_queued, promise, rejected};

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
    /// Records queued and not yet sent before the queue is full (default 100 000).
    pub queue_capacity: Option<u32>,
    /// Payload bytes queued and not yet sent before the queue is full (default 64 MiB).
    pub queue_bytes: Option<f64>,
    /// How long `commitAsync` waits for room in a full queue before `QueueFull` (default 5000 ms).
    pub enqueue_timeout_ms: Option<f64>,
    /// Speak the legacy unary `grpc_proto_log.Log` service (the Go server).
    pub legacy: Option<bool>,
    /// Largest payload accepted by `commit` (default 4 MiB).
    pub max_record_len: Option<u32>,
    /// PEM file of the CA(s) that signed the server's certificate (`https://` addresses;
    /// default: the system's trusted roots).
    pub tls_ca_file: Option<String>,
    /// PEM certificate (chain) to present to a server that requires client certificates.
    pub tls_cert_file: Option<String>,
    /// The PEM private key of `tlsCertFile`.
    pub tls_key_file: Option<String>,
    /// The name the server's certificate must carry, when it is not the address's host.
    pub tls_server_name: Option<String>,
}

/// The core's options: the given fields over the core's defaults.
pub(crate) fn core_options(o: ProducerOptions) -> CoreResult<sdk::ProducerOptions> {
    let tls = ClientTls {
        ca_file: o.tls_ca_file.map(PathBuf::from),
        cert_file: o.tls_cert_file.map(PathBuf::from),
        key_file: o.tls_key_file.map(PathBuf::from),
        server_name: o.tls_server_name,
    };
    let mut opts = sdk::ProducerOptions { token: o.token, tls, ..Default::default() };
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
    if let Some(n) = o.queue_bytes {
        opts.queue_bytes = byte_count(n, "queueBytes")?;
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

    /// For `producer.js`: this producer's handle, for `Producer._commitTo`.
    #[napi(js_name = "_handle", skip_typescript)]
    pub fn handle(&self) -> External<Arc<sdk::Producer>> {
        External::new(self.inner.clone())
    }

    /// For `producer.js`: `commit` (typed and documented in `dts-header.d.ts`) on the
    /// producer of `handle`. A static function taking the handle, not a method: napi-rs
    /// registers and checks `this` on every method call, about a third of a commit's time.
    #[napi(js_name = "_commitTo", skip_typescript)]
    pub fn commit_to(env: &Env, handle: &External<Arc<sdk::Producer>>, ty: f64, data: Unknown) -> napi::Result<()> {
        data_type(ty)
            .and_then(|ty| Ok((ty, payload(env, &data)?)))
            .and_then(|(ty, bytes)| handle.try_commit(ty, bytes))
            .map_err(|e| js_error(env, &e))
    }

    /// Queues one record, waiting (off the JavaScript thread) for room in a full queue
    /// for up to `enqueueTimeoutMs`; rejects with `QueueFull` after that. Other errors as
    /// `commit`, as rejections.
    #[napi(ts_args_type = "type: number, data: Buffer | Uint8Array | string", ts_return_type = "Promise<void>")]
    pub fn commit_async<'e>(&self, env: &'e Env, ty: f64, data: Unknown) -> napi::Result<Object<'e>> {
        let record = data_type(ty).and_then(|ty| Ok((ty, payload(env, &data)?)));
        let (ty, bytes) = match record {
            Ok(record) => record,
            Err(e) => return rejected(env, e),
        };
        let inner = self.inner.clone();
        promise(env, async move { inner.commit_async(ty, bytes).await })
    }

    /// Queues every item of `items` (same rules as `commit`, never blocking) in one native
    /// call; returns how many were queued. Stops at the first item that fails (a bad item,
    /// or `QueueFull`) and throws its error, whose `queued` property counts the items
    /// before it (they stay queued).
    #[napi(ts_args_type = "type: number, items: Array<Buffer | Uint8Array | string>")]
    pub fn commit_many(&self, env: &Env, ty: f64, items: Array) -> napi::Result<u32> {
        let ty = data_type(ty).map_err(|e| js_error_queued(env, &e, Some(0)))?;
        for i in 0..items.len() {
            let item: Unknown =
                items.get(i)?.ok_or_else(|| js_error_queued(env, &invalid("missing array item"), Some(i)))?;
            payload(env, &item)
                .and_then(|bytes| self.inner.try_commit(ty, bytes))
                .map_err(|e| js_error_queued(env, &e, Some(i)))?;
        }
        Ok(items.len())
    }

    /// Resolves once every record committed before the call is acknowledged.
    /// Rejects with `Timeout` after `timeoutMs` (default: as long as it takes), and with
    /// `NoSpace` at once while the server reports a full disk (the records are kept and
    /// retried: flush again later).
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

/// Installs `Producer.prototype.commit` (see `producer.js`).
pub(crate) fn install(exports: &Object, env: &Env) -> napi::Result<()> {
    let producer: Unknown = exports.get_named_property("Producer")?;
    let install: Function<Unknown, ()> = env.run_script(include_str!("producer.js"))?;
    install.call(producer)
}
