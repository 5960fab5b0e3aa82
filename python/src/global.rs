//! The global SDK: `init`, `commit`, `try_commit`, `flush` and `close` on the process-wide
//! producer.

use std::path::PathBuf;

use modsynclog_core::sdk::global;
use pyo3::prelude::*;
use pyo3_stub_gen::derive::gen_stub_pyfunction;

use crate::convert::{payload, seconds};
use crate::error::IntoPy;
use crate::producer::{Options, commit_on};

/// Starts the process-wide producer for `addr` (`"host:port"`, `"http://host:port"` or
/// `"https://host:port"`), with the same keyword options as `Producer`.
/// Again with the same address: nothing happens; with another: `AlreadyInitializedError`.
#[gen_stub_pyfunction(module = "modsynclog")]
#[pyfunction]
#[pyo3(signature = (
    addr, *, token = None, batch_max_records = None, batch_max_bytes = None, linger_ms = None,
    queue_capacity = None, queue_bytes = None, enqueue_timeout = None, max_record_len = None,
    legacy = false, tls_ca_file = None, tls_cert_file = None, tls_key_file = None,
    tls_server_name = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn init(
    py: Python<'_>,
    addr: &str,
    token: Option<String>,
    batch_max_records: Option<usize>,
    batch_max_bytes: Option<usize>,
    linger_ms: Option<u64>,
    queue_capacity: Option<usize>,
    queue_bytes: Option<usize>,
    enqueue_timeout: Option<f64>,
    max_record_len: Option<usize>,
    legacy: bool,
    #[gen_stub(override_type(type_repr = "_Path | None"))] tls_ca_file: Option<PathBuf>,
    #[gen_stub(override_type(type_repr = "_Path | None"))] tls_cert_file: Option<PathBuf>,
    #[gen_stub(override_type(type_repr = "_Path | None"))] tls_key_file: Option<PathBuf>,
    tls_server_name: Option<String>,
) -> PyResult<()> {
    let opts = Options {
        token,
        batch_max_records,
        batch_max_bytes,
        linger_ms,
        queue_capacity,
        queue_bytes,
        enqueue_timeout,
        max_record_len,
        legacy,
        tls_ca_file,
        tls_cert_file,
        tls_key_file,
        tls_server_name,
    }
    .into_core()?;
    py.detach(|| global::init_with(addr, opts)).py()
}

/// Queues one record on the global producer; returns without waiting for the network.
/// On a full queue it waits (GIL released) up to `enqueue_timeout`, then `QueueFullError`.
/// `NoSpaceError` at once (nothing queued) while the server reports a full disk.
#[gen_stub_pyfunction(module = "modsynclog")]
#[pyfunction]
#[pyo3(signature = (r#type, data))]
pub(crate) fn commit(
    py: Python<'_>,
    r#type: i16,
    #[gen_stub(override_type(type_repr = "_Data"))] data: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let data = payload(data)?;
    let producer = global::producer().py()?;
    commit_on(py, producer, r#type, data)
}

/// Queues one record on the global producer without ever waiting (`QueueFullError` at once).
#[gen_stub_pyfunction(module = "modsynclog")]
#[pyfunction]
#[pyo3(signature = (r#type, data))]
pub(crate) fn try_commit(
    r#type: i16,
    #[gen_stub(override_type(type_repr = "_Data"))] data: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let data = payload(data)?;
    global::try_commit(r#type, data).py()
}

/// Waits (GIL released) until every record committed so far is acknowledged.
/// `NoSpaceError` at once while the server reports a full disk (records kept, retried).
#[gen_stub_pyfunction(module = "modsynclog")]
#[pyfunction]
#[pyo3(signature = (timeout = None))]
pub(crate) fn flush(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::flush(timeout)).py()
}

/// Flushes (up to `timeout` seconds) and stops the global producer for good.
#[gen_stub_pyfunction(module = "modsynclog")]
#[pyfunction]
#[pyo3(signature = (timeout = Some(global::CLOSE_TIMEOUT.as_secs_f64())))]
pub(crate) fn close(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::close_timeout(timeout)).py()
}
