//! `Producer`: sends records to a server in the background, with its own options.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::ErrorKind;
use modsynclog_core::sdk::{Producer, ProducerOptions, global};
use modsynclog_core::tls::ClientTls;
use pyo3::prelude::*;
use pyo3_stub_gen::derive::{gen_stub_pyclass, gen_stub_pymethods};

use crate::convert::{payload, seconds};
use crate::error::IntoPy;

/// The keyword options of `Producer(...)` and `init(...)` (`None`: the core's default).
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) token: Option<String>,
    pub(crate) batch_max_records: Option<usize>,
    pub(crate) batch_max_bytes: Option<usize>,
    pub(crate) linger_ms: Option<u64>,
    pub(crate) queue_capacity: Option<usize>,
    pub(crate) queue_bytes: Option<usize>,
    pub(crate) enqueue_timeout: Option<f64>,
    pub(crate) max_record_len: Option<usize>,
    pub(crate) legacy: bool,
    pub(crate) tls_ca_file: Option<PathBuf>,
    pub(crate) tls_cert_file: Option<PathBuf>,
    pub(crate) tls_key_file: Option<PathBuf>,
    pub(crate) tls_server_name: Option<String>,
}

impl Options {
    /// The core's options: the given values over the core's defaults.
    pub(crate) fn into_core(self) -> PyResult<ProducerOptions> {
        let d = ProducerOptions::default();
        Ok(ProducerOptions {
            token: self.token,
            batch_max_records: self.batch_max_records.unwrap_or(d.batch_max_records),
            batch_max_bytes: self.batch_max_bytes.unwrap_or(d.batch_max_bytes),
            linger: self.linger_ms.map_or(d.linger, Duration::from_millis),
            queue_capacity: self.queue_capacity.unwrap_or(d.queue_capacity),
            queue_bytes: self.queue_bytes.unwrap_or(d.queue_bytes),
            enqueue_timeout: seconds(self.enqueue_timeout)?.unwrap_or(d.enqueue_timeout),
            max_record_len: self.max_record_len.unwrap_or(d.max_record_len),
            legacy: self.legacy,
            tls: ClientTls {
                ca_file: self.tls_ca_file,
                cert_file: self.tls_cert_file,
                key_file: self.tls_key_file,
                server_name: self.tls_server_name,
            },
            ..d
        })
    }
}

/// Commits on `producer`. The GIL is kept while the queue has room (`try_commit` never
/// waits) and released only to wait for room in a full queue (up to `enqueue_timeout`).
pub(crate) fn commit_on(py: Python<'_>, producer: &Producer, ty: i16, data: Bytes) -> PyResult<()> {
    match producer.try_commit(ty, data.clone()) {
        Err(e) if e.kind() == ErrorKind::QueueFull => py.detach(|| producer.commit(ty, data)).py(),
        other => other.py(),
    }
}

/// Sends records to a modsynclog server in the background.
#[gen_stub_pyclass]
#[pyclass(frozen, module = "modsynclog", name = "Producer")]
pub(crate) struct PyProducer {
    /// In a forked child its calls fail with `Closed` (the core's policy).
    inner: Producer,
}

#[gen_stub_pymethods]
#[pymethods]
impl PyProducer {
    #[new]
    #[pyo3(signature = (
        addr, *, token = None, batch_max_records = None, batch_max_bytes = None, linger_ms = None,
        queue_capacity = None, queue_bytes = None, enqueue_timeout = None, max_record_len = None,
        legacy = false, tls_ca_file = None, tls_cert_file = None, tls_key_file = None,
        tls_server_name = None
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
        queue_bytes: Option<usize>,
        enqueue_timeout: Option<f64>,
        max_record_len: Option<usize>,
        legacy: bool,
        #[gen_stub(override_type(type_repr = "_Path | None"))] tls_ca_file: Option<PathBuf>,
        #[gen_stub(override_type(type_repr = "_Path | None"))] tls_cert_file: Option<PathBuf>,
        #[gen_stub(override_type(type_repr = "_Path | None"))] tls_key_file: Option<PathBuf>,
        tls_server_name: Option<String>,
    ) -> PyResult<Self> {
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
        // Reads the TLS files: off the GIL.
        let producer = py.detach(|| Producer::connect(addr, opts)).py()?;
        Ok(PyProducer { inner: producer })
    }

    /// Queues one record; returns without waiting for the network. On a full queue it
    /// waits (GIL released) up to `enqueue_timeout`, then raises `QueueFullError`.
    /// `NoSpaceError` at once (nothing queued) while the server reports a full disk.
    #[pyo3(signature = (r#type, data))]
    fn commit(
        &self,
        py: Python<'_>,
        r#type: i16,
        #[gen_stub(override_type(type_repr = "_Data"))] data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let data = payload(data)?;
        commit_on(py, &self.inner, r#type, data)
    }

    /// Queues one record without ever waiting: `QueueFullError` at once on a full queue.
    #[pyo3(signature = (r#type, data))]
    fn try_commit(
        &self,
        r#type: i16,
        #[gen_stub(override_type(type_repr = "_Data"))] data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let data = payload(data)?;
        self.inner.try_commit(r#type, data).py()
    }

    /// Waits (GIL released) until every record committed so far is acknowledged.
    /// `NoSpaceError` at once while the server reports a full disk (records kept, retried).
    #[pyo3(signature = (timeout = None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = seconds(timeout)?;
        let producer = &self.inner;
        py.detach(|| producer.flush(timeout)).py()
    }

    /// Stops accepting records and waits (up to `timeout` seconds) for the rest to be acknowledged.
    #[pyo3(signature = (timeout = Some(global::CLOSE_TIMEOUT.as_secs_f64())))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = seconds(timeout)?;
        let producer = &self.inner;
        py.detach(|| producer.close(timeout)).py()
    }

    /// `(committed, settled)`: records committed so far, and how many are acknowledged or refused.
    fn progress(&self) -> PyResult<(u64, u64)> {
        Ok(self.inner.progress())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes; a failure to close is raised unless an exception is already on its way.
    fn __exit__(
        &self,
        py: Python<'_>,
        #[gen_stub(override_type(type_repr = "type[BaseException] | None"))] exc_type: Option<&Bound<'_, PyAny>>,
        #[gen_stub(override_type(type_repr = "BaseException | None"))] _exc: Option<&Bound<'_, PyAny>>,
        #[gen_stub(override_type(type_repr = "_Traceback | None"))] _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let result = self.close(py, Some(global::CLOSE_TIMEOUT.as_secs_f64()));
        match exc_type {
            Some(t) if !t.is_none() => Ok(false),
            _ => result.map(|()| false),
        }
    }
}
