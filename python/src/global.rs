//! The global SDK: `init`, `commit`, `flush` and `close` on the process-wide producer.

use modsynclog_core::sdk::{ProducerOptions, global};
use pyo3::prelude::*;

use crate::convert::{payload, seconds};
use crate::error::IntoPy;
use crate::producer::commit_on;

/// Starts the process-wide producer for `addr` (`"host:port"` or `"http://host:port"`).
/// Again with the same address: nothing happens; with another: `AlreadyInitializedError`.
#[pyfunction]
pub(crate) fn init(py: Python<'_>, addr: &str) -> PyResult<()> {
    py.detach(|| global::init(addr)).py()
}

/// Queues one record on the global producer; returns without waiting for the network.
#[pyfunction]
#[pyo3(signature = (r#type, data))]
pub(crate) fn commit(py: Python<'_>, r#type: i16, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let data = payload(data)?;
    let producer = global::producer().py()?;
    commit_on(py, producer, ProducerOptions::default().queue_capacity, r#type, data)
}

/// Waits (GIL released) until every record committed so far is acknowledged.
#[pyfunction]
#[pyo3(signature = (timeout = None))]
pub(crate) fn flush(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::flush(timeout)).py()
}

/// Flushes (up to `timeout` seconds) and stops the global producer for good.
#[pyfunction]
#[pyo3(signature = (timeout = Some(global::CLOSE_TIMEOUT.as_secs_f64())))]
pub(crate) fn close(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::close_timeout(timeout)).py()
}
