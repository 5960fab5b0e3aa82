//! The small JSON answers (`/api/status`, days, replicas, producers, config, history)
//! and `/metrics`. Anything that touches the files runs on the blocking pool.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use modsynclog_core::metrics::{self as core_metrics, SessionKind};
use modsynclog_core::{Error, ErrorKind};
use serde_json::{Value, json};

use crate::Shared;

/// An error as JSON: `{"error": message, "code": stable code}`.
pub(crate) fn error_response(status: StatusCode, e: &Error) -> Response {
    (status, Json(json!({"error": e.message(), "code": e.code()}))).into_response()
}

/// The HTTP status of an error of the core.
pub(crate) fn status_of(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Unavailable | ErrorKind::QueueFull => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A query string that does not parse (`type=abc`, `from=-1`), as a JSON 400.
pub(crate) fn bad_query(e: axum::extract::rejection::QueryRejection) -> Response {
    failed(Error::new(ErrorKind::InvalidArgument, e.body_text()))
}

pub(crate) fn failed(e: Error) -> Response {
    error_response(status_of(&e), &e)
}

/// Runs `f` on the blocking pool (it reads files).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> modsynclog_core::Result<T> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| failed(Error::new(ErrorKind::Io, format!("task failed: {e}"))))?
        .map_err(failed)
}

fn no_store() -> Response {
    failed(Error::new(ErrorKind::NotFound, "this process serves no store"))
}

pub(crate) async fn not_found() -> Response {
    failed(Error::new(ErrorKind::NotFound, "no such path (see web/API.md)"))
}

pub(crate) async fn metrics(State(state): State<Shared>) -> Result<Response, Response> {
    // The store's collector stats every day's files: off the runtime's workers.
    let text = blocking(move || Ok(core_metrics::encode(&state.registry))).await?;
    Ok(([(header::CONTENT_TYPE, core_metrics::CONTENT_TYPE)], text).into_response())
}

pub(crate) async fn status(State(state): State<Shared>) -> Result<Json<Value>, Response> {
    let head = match &state.store {
        Some(store) => {
            let (vfs, root) = (store.vfs.clone(), store.root.clone());
            let newest = blocking(move || core_metrics::store::newest_day(vfs.as_ref(), &root)).await?;
            newest.map(|d| json!({"date": d.date.to_string(), "records": d.records}))
        }
        None => None,
    };
    let signalled = state.store.as_ref().and_then(|s| s.signal.as_ref()).map(|s| s.head());
    Ok(Json(json!({
        "role": state.role.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": core_metrics::process::start_time() as u64,
        "head": head,
        "appended_records": signalled.map(|h| h.appended_records),
        "appended_bytes": signalled.map(|h| h.appended_bytes),
    })))
}

pub(crate) async fn days(State(state): State<Shared>) -> Result<Json<Value>, Response> {
    let Some(store) = &state.store else { return Err(no_store()) };
    let (vfs, root) = (store.vfs.clone(), store.root.clone());
    let days = blocking(move || core_metrics::store::days(vfs.as_ref(), &root)).await?;
    let days: Vec<Value> = days
        .iter()
        .map(|d| json!({"date": d.date.to_string(), "records": d.records, "bytes": d.bytes, "finished": d.finished}))
        .collect();
    Ok(Json(json!({ "days": days })))
}

pub(crate) async fn replicas(State(state): State<Shared>) -> Result<Json<Value>, Response> {
    let (Some(store), Some(metrics)) = (&state.store, &state.metrics) else {
        return Ok(Json(json!({ "replicas": [] })));
    };
    let (vfs, root, sessions) = (store.vfs.clone(), store.root.clone(), metrics.sessions.clone());
    let replicas = blocking(move || Ok(core_metrics::store::replicas(vfs.as_ref(), &root, &sessions))).await?;
    let replicas: Vec<Value> = replicas
        .iter()
        .map(|r| {
            json!({
                "address": r.session.address,
                "protocol": r.session.kind.protocol(),
                "date": r.session.position.map(|(d, _)| d.to_string()),
                "id": r.session.position.map(|(_, id)| id),
                "lag_records": r.lag_records,
                "lag_seconds": r.lag_seconds,
                "connected_since": r.session.connected_since,
            })
        })
        .collect();
    Ok(Json(json!({ "replicas": replicas })))
}

pub(crate) async fn producers(State(state): State<Shared>) -> Json<Value> {
    let Some(metrics) = &state.metrics else { return Json(json!({ "producers": [] })) };
    let producers: Vec<Value> = metrics
        .sessions
        .list()
        .into_iter()
        .filter(|s| s.kind == SessionKind::Producer)
        .map(|s| {
            json!({
                "address": s.address,
                "source": "native",
                "connected_since": s.connected_since,
                "records": s.records,
                "bytes": s.bytes,
                "rate": state.history.producer_rate(s.id),
            })
        })
        .collect();
    Json(json!({ "producers": producers }))
}

pub(crate) async fn config(State(state): State<Shared>) -> Json<Value> {
    Json(state.config.clone())
}

pub(crate) async fn history(State(state): State<Shared>) -> Json<Value> {
    Json(json!({ "points": state.history.points() }))
}
