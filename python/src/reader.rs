//! `Reader` (walks a store folder, following it if asked) and the `Record`s it returns,
//! one at a time (`next`, iteration) or a day's batch at a time (`next_columns`, whose
//! `Columns` class lives in `columns.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use modsynclog_core::columns::{DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS};
use modsynclog_core::{Columns, Date, Filled, Next, Reader, Record, Stopper};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3_stub_gen::derive::{gen_stub_pyclass, gen_stub_pymethods};

use crate::columns::PyColumns;
use crate::convert::seconds;
use crate::error::{IntoPy, py_err};

/// A follow wait is cut into slices this long, so that Ctrl-C (signals) are noticed.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// One stored record.
#[gen_stub_pyclass]
#[pyclass(frozen, module = "modsynclog", name = "Record")]
pub(crate) struct PyRecord {
    pub(crate) record: Record,
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
    /// The buffers of the last batch, reused by the next `next_columns` (taken out while
    /// one runs, so that this lock is never held across a wait or the GIL).
    columns: Mutex<Columns>,
}

/// What a read returns when nothing arrived in time: one wait loop serves both reads.
trait Waited {
    fn timed_out(&self) -> bool;
}

impl Waited for Next {
    fn timed_out(&self) -> bool {
        matches!(self, Next::Timeout)
    }
}

impl Waited for Filled {
    fn timed_out(&self) -> bool {
        matches!(self, Filled::Timeout)
    }
}

impl PyReader {
    fn lock(&self) -> MutexGuard<'_, Reader> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next step. Following: waits with the GIL released, up to `timeout` (`None`:
    /// until a record arrives or `close()`), in slices so that signals are handled.
    fn step(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Next> {
        self.wait(py, timeout, |reader, wait| reader.next_record(wait))
    }

    /// `read` (a `next_record` or a `next_columns`) with the waiting rules of `step`.
    fn wait<T: Waited + Send>(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
        mut read: impl FnMut(&mut Reader, Option<Duration>) -> modsynclog_core::Result<T> + Send,
    ) -> PyResult<T> {
        if !self.follow {
            return read(&mut self.lock(), None).py();
        }
        // A record already there is taken without releasing the GIL (a round trip of the
        // GIL per record would halve a follower's catch-up over a backlog).
        let next = read(&mut self.lock(), Some(Duration::ZERO)).py()?;
        if !next.timed_out() {
            return Ok(next);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            let next = py.detach(|| read(&mut self.lock(), Some(slice))).py()?;
            if !(next.timed_out() && deadline.is_none_or(|d| Instant::now() < d)) {
                return Ok(next);
            }
            py.check_signals()?;
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
        Ok(PyReader {
            inner: Mutex::new(reader),
            stopper,
            follow,
            closed: AtomicBool::new(false),
            columns: Mutex::new(Columns::default()),
        })
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

    /// The next records of one day as a `Columns` batch, for bulk scans: a few objects per
    /// batch instead of one per record. Waits like `next` for the first record, then takes
    /// only records already there, up to `max_records` and until the payloads reach
    /// `max_bytes` (at least one record, whatever its size); a batch never spans two days.
    /// `None` when `next` would return it. `max_records` or `max_bytes` 0: `InvalidArgumentError`.
    #[pyo3(signature = (max_records = DEFAULT_MAX_RECORDS, max_bytes = DEFAULT_MAX_BYTES, timeout = None))]
    #[gen_stub(override_return_type(type_repr = "Columns | None"))]
    fn next_columns(
        &self,
        py: Python<'_>,
        max_records: usize,
        max_bytes: usize,
        timeout: Option<f64>,
    ) -> PyResult<Option<PyColumns>> {
        // An error, not the defaults (as C's 0 means): Python has defaults, and a 0 here
        // is more likely a computed limit gone wrong than a request for them.
        if max_records == 0 || max_bytes == 0 {
            return Err(py_err(modsynclog_core::Error::invalid(format!(
                "max_records and max_bytes must be at least 1, not {max_records} and {max_bytes}"
            ))));
        }
        let timeout = seconds(timeout)?;
        let mut columns = std::mem::take(&mut *self.columns.lock().unwrap_or_else(|p| p.into_inner()));
        let filled =
            self.wait(py, timeout, |reader, wait| reader.next_columns(&mut columns, max_records, max_bytes, wait));
        let batch = match filled {
            Ok(Filled::Records) => PyColumns::new(py, &columns).map(Some),
            Ok(Filled::End | Filled::Timeout) => Ok(None),
            Err(e) => Err(e),
        };
        *self.columns.lock().unwrap_or_else(|p| p.into_inner()) = columns;
        batch
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
