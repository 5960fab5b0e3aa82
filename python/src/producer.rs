//! `Producer`: sends records to a server in the background, with its own options.

use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::sdk::{Producer, ProducerOptions, global};
use modsynclog_core::{Error, ErrorKind};
use pyo3::prelude::*;

use crate::convert::{payload, seconds};
use crate::error::{IntoPy, py_err};

/// `commit` releases the GIL when fewer than this many free places may be left in the
/// queue (it may then wait for room); otherwise it cannot block and keeps the GIL.
const QUEUE_MARGIN: u64 = 1024;

/// Commits on `producer`, releasing the GIL only when the queue may be (nearly) full.
pub(crate) fn commit_on(py: Python<'_>, producer: &Producer, capacity: usize, ty: i16, data: Bytes) -> PyResult<()> {
    let (committed, settled) = producer.progress();
    if committed.saturating_sub(settled).saturating_add(QUEUE_MARGIN) < capacity as u64 {
        producer.commit(ty, data).py()
    } else {
        py.detach(|| producer.commit(ty, data)).py()
    }
}

/// Sends records to a modsynclog server in the background.
#[pyclass(frozen, module = "modsynclog", name = "Producer")]
pub(crate) struct PyProducer {
    inner: Option<Producer>,
    capacity: usize,
    /// The process that started it: a forked child cannot use it (its threads are gone).
    pid: u32,
}

impl PyProducer {
    fn get(&self) -> PyResult<&Producer> {
        match &self.inner {
            Some(p) if self.pid == std::process::id() => Ok(p),
            _ => Err(py_err(Error::new(
                ErrorKind::Closed,
                "this Producer was started in the parent process before a fork; start a new one here",
            ))),
        }
    }
}

impl Drop for PyProducer {
    fn drop(&mut self) {
        // In a forked child the producer's locks may be held by threads that do not exist
        // here: never touch it.
        if self.pid != std::process::id()
            && let Some(p) = self.inner.take()
        {
            std::mem::forget(p);
        }
    }
}

#[pymethods]
impl PyProducer {
    #[new]
    #[pyo3(signature = (
        addr, *, token = None, batch_max_records = None, batch_max_bytes = None, linger_ms = None,
        queue_capacity = None, enqueue_timeout = None, max_record_len = None, legacy = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        addr: &str,
        token: Option<String>,
        batch_max_records: Option<usize>,
        batch_max_bytes: Option<usize>,
        linger_ms: Option<u64>,
        queue_capacity: Option<usize>,
        enqueue_timeout: Option<f64>,
        max_record_len: Option<usize>,
        legacy: bool,
    ) -> PyResult<Self> {
        let d = ProducerOptions::default();
        let opts = ProducerOptions {
            token,
            batch_max_records: batch_max_records.unwrap_or(d.batch_max_records),
            batch_max_bytes: batch_max_bytes.unwrap_or(d.batch_max_bytes),
            linger: linger_ms.map_or(d.linger, Duration::from_millis),
            queue_capacity: queue_capacity.unwrap_or(d.queue_capacity),
            enqueue_timeout: seconds(enqueue_timeout)?.unwrap_or(d.enqueue_timeout),
            max_record_len: max_record_len.unwrap_or(d.max_record_len),
            legacy,
            ..d
        };
        let capacity = opts.queue_capacity;
        let producer = py.detach(|| Producer::connect(addr, opts)).py()?;
        Ok(PyProducer { inner: Some(producer), capacity, pid: std::process::id() })
    }

    /// Queues one record; returns without waiting for the network.
    #[pyo3(signature = (r#type, data))]
    fn commit(&self, py: Python<'_>, r#type: i16, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = payload(data)?;
        commit_on(py, self.get()?, self.capacity, r#type, data)
    }

    /// Waits (GIL released) until every record committed so far is acknowledged.
    #[pyo3(signature = (timeout = None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = seconds(timeout)?;
        let producer = self.get()?;
        py.detach(|| producer.flush(timeout)).py()
    }

    /// Stops accepting records and waits (up to `timeout` seconds) for the rest to be acknowledged.
    #[pyo3(signature = (timeout = Some(global::CLOSE_TIMEOUT.as_secs_f64())))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = seconds(timeout)?;
        let producer = self.get()?;
        py.detach(|| producer.close(timeout)).py()
    }

    /// `(committed, settled)`: records committed so far, and how many are acknowledged or refused.
    fn progress(&self) -> PyResult<(u64, u64)> {
        Ok(self.get()?.progress())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes; a failure to close is raised unless an exception is already on its way.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let result = self.close(py, Some(global::CLOSE_TIMEOUT.as_secs_f64()));
        match exc_type {
            Some(t) if !t.is_none() => Ok(false),
            _ => result.map(|()| false),
        }
    }
}
