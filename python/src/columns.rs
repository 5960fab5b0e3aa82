//! `Columns`: one day's batch of records as columns, what `Reader.next_columns` returns.
//!
//! A scan through `Reader.next()` pays for a `Record` (and a `bytes`) per record; a batch
//! costs a fixed handful of objects however many records it holds: one `bytes` per column
//! and a `memoryview` cast over it. Under `abi3-py310` a pyclass cannot export a buffer
//! itself (the buffer protocol entered the limited API in 3.11), so each column is copied
//! once into a `bytes`, which also makes the batch immutable and independent of the
//! reader's buffers (reused by its next batch). `Record`s are made only when asked for
//! (`cols[i]`, iteration), from those same bytes.

use bytes::Bytes;
use modsynclog_core::{Columns, Date, Record};
use pyo3::exceptions::{PyIndexError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyRange};
use pyo3_stub_gen::derive::{gen_stub_pyclass, gen_stub_pymethods};

use crate::reader::PyRecord;

/// Records `first_id ..` of one day, as columns: record `i` has id `ids[i]`, time
/// `times[i]`, type `types[i]` and payload `data[offsets[i]:offsets[i + 1]]`.
///
/// The columns are read-only `memoryview`s in native byte order, so
/// `numpy.frombuffer(cols.times, numpy.int32)` (`int16` for `types`, `uint32` for
/// `offsets`) and `pyarrow.py_buffer(cols.data)` share their memory instead of copying it.
/// `cols[i]` and iteration give `Record`s, made on demand.
#[gen_stub_pyclass]
#[pyclass(frozen, module = "modsynclog", name = "Columns")]
pub(crate) struct PyColumns {
    date: Date,
    first_id: u64,
    len: usize,
    /// The `bytes` under the memoryviews, kept to read single values by `__getitem__`.
    raw_times: Py<PyBytes>,
    raw_types: Py<PyBytes>,
    raw_offsets: Py<PyBytes>,
    data: Py<PyBytes>,
    /// Made once here: the getters hand out the same objects every time.
    times: Py<PyAny>,
    types: Py<PyAny>,
    offsets: Py<PyAny>,
}

/// `values` as a `bytes` in native byte order (written in place: one copy) and a
/// `memoryview` of it cast to the struct `format` of one value.
fn column<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; N],
    format: &str,
) -> PyResult<(Py<PyBytes>, Py<PyAny>)> {
    let raw = PyBytes::new_with(py, values.len() * N, |buf| {
        for (out, &v) in buf.chunks_exact_mut(N).zip(values) {
            out.copy_from_slice(&to_bytes(v));
        }
        Ok(())
    })?;
    let view = PyMemoryView::from(&raw)?.call_method1("cast", (format,))?;
    Ok((raw.unbind(), view.unbind()))
}

/// Value `i` of a column written by `column`; `IndexError` past its end.
fn value<const N: usize>(raw: &Bound<'_, PyBytes>, i: usize) -> PyResult<[u8; N]> {
    raw.as_bytes()
        .get(i * N..(i + 1) * N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| PyIndexError::new_err(format!("no value {i} in a column of {} bytes", raw.as_bytes().len())))
}

impl PyColumns {
    /// The Python side of a filled batch (`Filled::Records`: at least one record).
    pub(crate) fn new(py: Python<'_>, c: &Columns) -> PyResult<Self> {
        let date = c.date.ok_or_else(|| PyRuntimeError::new_err("a batch of records without a day"))?;
        let (raw_times, times) = column(py, &c.times, i32::to_ne_bytes, "i")?;
        let (raw_types, types) = column(py, &c.types, i16::to_ne_bytes, "h")?;
        let (raw_offsets, offsets) = column(py, &c.offsets, u32::to_ne_bytes, "I")?;
        let data = PyBytes::new(py, &c.data).unbind();
        Ok(PyColumns {
            date,
            first_id: c.first_id,
            len: c.len(),
            raw_times,
            raw_types,
            raw_offsets,
            data,
            times,
            types,
            offsets,
        })
    }

    /// Record `i` (`i < len`), with a copy of its payload.
    fn record(&self, py: Python<'_>, i: usize) -> PyResult<PyRecord> {
        let start = u32::from_ne_bytes(value(self.raw_offsets.bind(py), i)?) as usize;
        let end = u32::from_ne_bytes(value(self.raw_offsets.bind(py), i + 1)?) as usize;
        let data = self
            .data
            .bind(py)
            .as_bytes()
            .get(start..end)
            .ok_or_else(|| PyIndexError::new_err(format!("payload {i} ({start}..{end}) past the batch's data")))?;
        Ok(PyRecord {
            record: Record {
                date: self.date,
                id: self.first_id + i as u64,
                time: i32::from_ne_bytes(value(self.raw_times.bind(py), i)?),
                ty: i16::from_ne_bytes(value(self.raw_types.bind(py), i)?),
                data: Bytes::copy_from_slice(data),
            },
        })
    }
}

#[gen_stub_pymethods]
#[pymethods]
impl PyColumns {
    /// The day of every record, as `"YYYY-MM-DD"`.
    #[getter]
    fn date(&self) -> String {
        self.date.to_string()
    }

    /// The first record's number within its day; the others follow it.
    #[getter]
    fn first_id(&self) -> u64 {
        self.first_id
    }

    /// The records' ids: `range(first_id, first_id + len(self))`.
    #[getter]
    #[gen_stub(override_return_type(type_repr = "builtins.range", imports = ("builtins")))]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyRange>> {
        // A day holds at most 2^15 * 10^6 records: an id fits in an isize on 64-bit.
        PyRange::new(py, self.first_id as isize, (self.first_id + self.len as u64) as isize)
    }

    /// Unix seconds, as stored: a `memoryview` of format `"i"` (int32), one per record.
    #[getter]
    #[gen_stub(override_return_type(type_repr = "builtins.memoryview", imports = ("builtins")))]
    fn times(&self, py: Python<'_>) -> Py<PyAny> {
        self.times.clone_ref(py)
    }

    /// The records' types: a `memoryview` of format `"h"` (int16), one per record.
    #[getter]
    #[gen_stub(override_return_type(type_repr = "builtins.memoryview", imports = ("builtins")))]
    fn types(&self, py: Python<'_>) -> Py<PyAny> {
        self.types.clone_ref(py)
    }

    /// Where each payload starts in `data`, then where the last one ends: a `memoryview`
    /// of format `"I"` (uint32), `len(self) + 1` entries from 0.
    #[getter]
    #[gen_stub(override_return_type(type_repr = "builtins.memoryview", imports = ("builtins")))]
    fn offsets(&self, py: Python<'_>) -> Py<PyAny> {
        self.offsets.clone_ref(py)
    }

    /// Every payload, one after another.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    fn __len__(&self) -> usize {
        self.len
    }

    /// Record `i` (negative: from the end); `IndexError` out of range.
    fn __getitem__(&self, py: Python<'_>, i: isize) -> PyResult<PyRecord> {
        let at = if i < 0 { i.checked_add_unsigned(self.len) } else { Some(i) };
        match at.and_then(|at| usize::try_from(at).ok()).filter(|&at| at < self.len) {
            Some(at) => self.record(py, at),
            None => Err(PyIndexError::new_err(format!("record {i} of a batch of {}", self.len))),
        }
    }

    #[gen_stub(override_return_type(type_repr = "typing.Iterator[Record]", imports = ("typing")))]
    fn __iter__(slf: Py<Self>) -> ColumnsIter {
        ColumnsIter { columns: slf, next: 0 }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let size = self.data.bind(py).as_bytes().len();
        format!("Columns(date='{}', first_id={}, len={}, data={size} bytes)", self.date, self.first_id, self.len)
    }
}

/// The iterator of a `Columns`' records (private: typed as `Iterator[Record]`).
#[pyclass(module = "modsynclog", name = "_ColumnsIterator")]
pub(crate) struct ColumnsIter {
    columns: Py<PyColumns>,
    next: usize,
}

#[pymethods]
impl ColumnsIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyRecord>> {
        let columns = self.columns.get();
        if self.next >= columns.len {
            return Ok(None);
        }
        let record = columns.record(py, self.next)?;
        self.next += 1;
        Ok(Some(record))
    }
}
