//! `Reader` (walks a store folder, following it if asked) and the `Record`s it returns.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use modsynclog_core::{Date, Next, Reader, Record, Stopper};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3_stub_gen::derive::{gen_stub_pyclass, gen_stub_pymethods};

use crate::convert::seconds;
use crate::error::IntoPy;

/// A follow wait is cut into slices this long, so that Ctrl-C (signals) are noticed.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// One stored record.
#[gen_stub_pyclass]
#[pyclass(frozen, module = "modsynclog", name = "Record")]
pub(crate) struct PyRecord {
    record: Record,
}

#[gen_stub_pymethods]
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
#[gen_stub_pyclass]
#[pyclass(frozen, module = "modsynclog", name = "Reader")]
pub(crate) struct PyReader {
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
        // A record already there is taken without releasing the GIL (a round trip of the
        // GIL per record would halve a follower's catch-up over a backlog).
        match self.lock().next_record(Some(Duration::ZERO)).py()? {
            Next::Timeout => {}
            next => return Ok(next),
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

#[gen_stub_pymethods]
#[pymethods]
impl PyReader {
    #[new]
    #[pyo3(signature = (dir, date = None, id = 0, follow = false))]
    fn new(
        py: Python<'_>,
        #[gen_stub(override_type(type_repr = "_Path"))] dir: PathBuf,
        #[gen_stub(override_type(type_repr = "builtins.str | datetime.date | None", imports = ("builtins", "datetime")))]
        date: Option<&Bound<'_, PyAny>>,
        id: u64,
        follow: bool,
    ) -> PyResult<Self> {
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

    #[gen_stub(override_return_type(type_repr = "Record"))]
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
        #[gen_stub(override_type(type_repr = "type[BaseException] | None"))] _exc_type: Option<&Bound<'_, PyAny>>,
        #[gen_stub(override_type(type_repr = "BaseException | None"))] _exc: Option<&Bound<'_, PyAny>>,
        #[gen_stub(override_type(type_repr = "_Traceback | None"))] _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }
}
