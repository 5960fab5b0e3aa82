//! Python bindings of modsynclog: the extension module `modsynclog._modsynclog`.
//!
//! Thin on purpose: argument conversion, error mapping and releasing the GIL around every
//! call that may wait. The behaviour lives in `modsynclog-core`; the pure-Python package
//! `modsynclog` (python/modsynclog/) re-exports what is defined here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use modsynclog_core::sdk::{self, Producer, ProducerOptions, global};
use modsynclog_core::{Date, Error, ErrorKind, Next, Reader, Record, Stopper};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTimeoutError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMemoryView, PyString, PyTuple, PyType};

/// The package the public names live in (they are re-exported by `modsynclog/__init__.py`).
const PACKAGE: &str = "modsynclog";

/// A follow wait is cut into slices this long, so that Ctrl-C (signals) are noticed.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// `commit` releases the GIL when fewer than this many free places may be left in the
/// queue (it may then wait for room); otherwise it cannot block and keeps the GIL.
const QUEUE_MARGIN: u64 = 1024;

// ---------------------------------------------------------------------------------------
// Errors: `Error` and one subclass per `ErrorKind`, generated from `ErrorKind::ALL`.

struct ErrorClasses {
    base: Py<PyType>,
    kinds: Vec<(ErrorKind, Py<PyType>)>,
}

static ERRORS: PyOnceLock<ErrorClasses> = PyOnceLock::new();

fn class_dict<'py>(py: Python<'py>, doc: &str, code: i32) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", PACKAGE)?;
    dict.set_item("__doc__", doc)?;
    dict.set_item("code", code)?;
    Ok(dict)
}

fn make_error_classes(py: Python<'_>) -> PyResult<ErrorClasses> {
    let type_ = py.get_type::<PyType>();
    let base_doc = "Base class of every modsynclog error; `code` is the stable error code \
                    (the same number the C ABI returns and Node puts in `error.code`).";
    let base =
        type_.call1(("Error", PyTuple::new(py, [py.get_type::<PyException>()])?, class_dict(py, base_doc, 0)?))?;
    let base = base.cast_into::<PyType>()?;
    let mut kinds = Vec::with_capacity(ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        let name = format!("{}Error", kind.name());
        let doc = format!("modsynclog error kind {} (code {}).", kind.name(), kind.code());
        let bases = if kind == ErrorKind::Timeout {
            PyTuple::new(py, [base.clone(), py.get_type::<PyTimeoutError>()])?
        } else {
            PyTuple::new(py, [base.clone()])?
        };
        let class = type_.call1((name, bases, class_dict(py, &doc, kind.code())?))?.cast_into::<PyType>()?;
        kinds.push((kind, class.unbind()));
    }
    Ok(ErrorClasses { base: base.unbind(), kinds })
}

/// The Python exception for a core error: the subclass of its kind, with its message.
fn py_err(err: Error) -> PyErr {
    Python::attach(|py| match ERRORS.get(py) {
        Some(classes) => {
            let class = classes.kinds.iter().find(|(k, _)| *k == err.kind()).map_or(&classes.base, |(_, c)| c);
            PyErr::from_type(class.bind(py).clone(), err.to_string())
        }
        None => PyRuntimeError::new_err(err.to_string()),
    })
}

trait IntoPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

// ---------------------------------------------------------------------------------------
// Conversions.

/// `bytes`, `bytearray`, `memoryview` or `str` (UTF-8) as a record payload.
fn payload(data: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(Bytes::from(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = data.cast::<PyByteArray>() {
        return Ok(Bytes::from(b.to_vec()));
    }
    if let Ok(m) = data.cast::<PyMemoryView>() {
        let copy = m.call_method0("tobytes")?;
        let copy = copy.cast::<PyBytes>()?;
        return Ok(Bytes::copy_from_slice(copy.as_bytes()));
    }
    let type_name = data.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Err(PyTypeError::new_err(format!("data must be bytes, bytearray, memoryview or str, not {type_name}")))
}

/// Seconds (a float, `None` for no limit) as a duration.
fn seconds(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    timeout
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| py_err(Error::invalid(format!("timeout must be a number of seconds >= 0, not {s}"))))
        })
        .transpose()
}

/// Commits on `producer`, releasing the GIL only when the queue may be (nearly) full.
fn commit_on(py: Python<'_>, producer: &Producer, capacity: usize, ty: i16, data: Bytes) -> PyResult<()> {
    let (committed, settled) = producer.progress();
    if committed.saturating_sub(settled).saturating_add(QUEUE_MARGIN) < capacity as u64 {
        producer.commit(ty, data).py()
    } else {
        py.detach(|| producer.commit(ty, data)).py()
    }
}

// ---------------------------------------------------------------------------------------
// The global SDK.

/// Starts the process-wide producer for `addr` (`"host:port"` or `"http://host:port"`).
/// Again with the same address: nothing happens; with another: `AlreadyInitializedError`.
#[pyfunction]
fn init(py: Python<'_>, addr: &str) -> PyResult<()> {
    py.detach(|| global::init(addr)).py()
}

/// Queues one record on the global producer; returns without waiting for the network.
#[pyfunction]
#[pyo3(signature = (r#type, data))]
fn commit(py: Python<'_>, r#type: i16, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let data = payload(data)?;
    let producer = global::producer().py()?;
    commit_on(py, producer, ProducerOptions::default().queue_capacity, r#type, data)
}

/// Waits (GIL released) until every record committed so far is acknowledged.
#[pyfunction]
#[pyo3(signature = (timeout = None))]
fn flush(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::flush(timeout)).py()
}

/// Flushes (up to `timeout` seconds) and stops the global producer for good.
#[pyfunction]
#[pyo3(signature = (timeout = Some(global::CLOSE_TIMEOUT.as_secs_f64())))]
fn close(py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
    let timeout = seconds(timeout)?;
    py.detach(|| global::close_timeout(timeout)).py()
}

// ---------------------------------------------------------------------------------------
// Producer.

/// Sends records to a modsynclog server in the background.
#[pyclass(frozen, module = "modsynclog", name = "Producer")]
struct PyProducer {
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

// ---------------------------------------------------------------------------------------
// Record and Reader.

/// One stored record.
#[pyclass(frozen, module = "modsynclog", name = "Record")]
struct PyRecord {
    record: Record,
}

#[pymethods]
impl PyRecord {
    /// The day, as `"YYYY-MM-DD"`.
    #[getter]
    fn date(&self) -> String {
        self.record.date.to_string()
    }

    /// The record's number within its day, from 0.
    #[getter]
    fn id(&self) -> u64 {
        self.record.id
    }

    /// Unix seconds, as stored.
    #[getter]
    fn time(&self) -> i32 {
        self.record.time
    }

    #[getter]
    #[pyo3(name = "type")]
    fn ty(&self) -> i16 {
        self.record.ty
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.record.data)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        const SHOWN: usize = 40;
        let r = &self.record;
        let data = PyBytes::new(py, &r.data[..r.data.len().min(SHOWN)]).repr()?;
        let more = if r.data.len() > SHOWN { format!("... ({} bytes)", r.data.len()) } else { String::new() };
        Ok(format!("Record(date='{}', id={}, time={}, type={}, data={data}{more})", r.date, r.id, r.time, r.ty))
    }
}

/// Walks the records of a store folder from `(date, id)` onwards.
#[pyclass(frozen, module = "modsynclog", name = "Reader")]
struct PyReader {
    inner: Mutex<Reader>,
    stopper: Stopper,
    follow: bool,
    closed: AtomicBool,
}

impl PyReader {
    fn lock(&self) -> MutexGuard<'_, Reader> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next step. Following: waits with the GIL released, up to `timeout` (`None`:
    /// until a record arrives or `close()`), in slices so that signals are handled.
    fn step(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Next> {
        if !self.follow {
            return self.lock().next_record(None).py();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            let next = py.detach(|| self.lock().next_record(Some(slice))).py()?;
            match next {
                Next::Timeout if deadline.is_none_or(|d| Instant::now() < d) => py.check_signals()?,
                next => return Ok(next),
            }
        }
    }
}

#[pymethods]
impl PyReader {
    #[new]
    #[pyo3(signature = (dir, date = None, id = 0, follow = false))]
    fn new(py: Python<'_>, dir: PathBuf, date: Option<&Bound<'_, PyAny>>, id: u64, follow: bool) -> PyResult<Self> {
        let date = match date {
            None => None,
            Some(d) if d.is_none() => None,
            Some(d) => {
                let text: String = match d.cast::<PyString>() {
                    Ok(s) => s.to_cow()?.into_owned(),
                    Err(_) => d.call_method0("isoformat")?.extract()?,
                };
                Some(Date::parse(&text).py()?)
            }
        };
        let reader = py.detach(|| Reader::open(&dir)).py()?;
        let reader = match date {
            Some(date) => reader.from(date, id),
            None => reader.from_id(id),
        }
        .follow(follow);
        let stopper = reader.stopper();
        Ok(PyReader { inner: Mutex::new(reader), stopper, follow, closed: AtomicBool::new(false) })
    }

    /// The next record; `None` when `timeout` seconds pass first (following), at the end
    /// of the records (not following) or once closed.
    #[pyo3(signature = (timeout = None))]
    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyRecord>> {
        let timeout = seconds(timeout)?;
        Ok(match self.step(py, timeout)? {
            Next::Record(record) => Some(PyRecord { record }),
            Next::End | Next::Timeout => None,
        })
    }

    /// Stops the reader, also from another thread: a waiting `next` returns, iteration ends.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.stopper.stop();
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyRecord>> {
        Ok(match self.step(py, None)? {
            Next::Record(record) => Some(PyRecord { record }),
            Next::End | Next::Timeout => None,
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }
}

// ---------------------------------------------------------------------------------------

#[pymodule]
fn _modsynclog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes = ERRORS.get_or_try_init(py, || make_error_classes(py))?;
    m.add("Error", classes.base.bind(py))?;
    for (kind, class) in &classes.kinds {
        m.add(format!("{}Error", kind.name()).as_str(), class.bind(py))?;
    }
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(commit, m)?)?;
    m.add_function(wrap_pyfunction!(flush, m)?)?;
    m.add_function(wrap_pyfunction!(close, m)?)?;
    m.add_class::<PyProducer>()?;
    m.add_class::<PyReader>()?;
    m.add_class::<PyRecord>()?;
    m.add("TYPE_DB_LOG", sdk::TYPE_DB_LOG)?;
    m.add("TYPE_APP_LOG", sdk::TYPE_APP_LOG)?;
    m.add("TYPE_JSON_LOG", sdk::TYPE_JSON_LOG)?;
    m.add("CLOSE_TIMEOUT", global::CLOSE_TIMEOUT.as_secs_f64())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
