//! Errors and promises: a core error becomes a JavaScript `Error` (with `code` and
//! `errno`), and work that may wait settles a `Promise` with its core result.

use std::future::Future;

use modsynclog_core::ErrorKind;
use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue};
use napi::{Env, JsValue};

pub(crate) type CoreError = modsynclog_core::Error;
pub(crate) type CoreResult<T> = modsynclog_core::Result<T>;

/// The JavaScript `Error` for a core error: `message`, `code` (kind name), `errno` (number).
/// Must run on the JavaScript thread.
pub(crate) fn js_error(env: &Env, err: &CoreError) -> napi::Error {
    js_error_queued(env, err, None)
}

/// [`js_error`] with a `queued` count: how many items of a `commitMany` were queued
/// before the one that failed.
pub(crate) fn js_error_queued(env: &Env, err: &CoreError, queued: Option<u32>) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let plain = napi::Error::new(err.kind().name(), err.to_string());
        let value = napi::JsError::from(plain).into_unknown(*env);
        let mut object = value.coerce_to_object()?;
        object.set_named_property("errno", err.code())?;
        if let Some(n) = queued {
            object.set_named_property("queued", n)?;
        }
        Ok(napi::Error::from(value))
    };
    build().unwrap_or_else(|e| e)
}

pub(crate) fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::new(ErrorKind::InvalidArgument, message)
}

/// Runs `fut` on the napi tokio runtime and returns a Promise settled with its outcome
/// (rejections carry the core error's `code`/`errno`).
pub(crate) fn promise<'e, T, F>(env: &'e Env, fut: F) -> napi::Result<Object<'e>>
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

/// A Promise already rejected with `err` (argument errors of Promise-returning calls
/// reject rather than throw).
pub(crate) fn rejected<'e>(env: &'e Env, err: CoreError) -> napi::Result<Object<'e>> {
    promise(env, async move { CoreResult::<()>::Err(err) })
}

/// [`promise`] for blocking work: runs `work` on the runtime's blocking pool.
pub(crate) fn blocking_promise<'e, T, W>(env: &'e Env, work: W) -> napi::Result<Object<'e>>
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
