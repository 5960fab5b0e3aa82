//! Conversions of Python arguments: record payloads and timeouts in seconds.

use std::time::Duration;

use bytes::Bytes;
use modsynclog_core::Error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};

use crate::error::py_err;

/// `bytes`, `bytearray`, `memoryview` or `str` (UTF-8) as a record payload.
pub(crate) fn payload(data: &Bound<'_, PyAny>) -> PyResult<Bytes> {
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
pub(crate) fn seconds(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    timeout
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| py_err(Error::invalid(format!("timeout must be a number of seconds >= 0, not {s}"))))
        })
        .transpose()
}
