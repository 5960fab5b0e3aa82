//! Errors: the Python exception `Error` and one subclass per core `ErrorKind` (generated
//! from `ErrorKind::ALL`), and the mapping of core errors onto them.

use modsynclog_core::{Error, ErrorKind};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTimeoutError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The package the public names live in (they are re-exported by `modsynclog/__init__.py`).
const PACKAGE: &str = "modsynclog";

pub(crate) struct ErrorClasses {
    pub(crate) base: Py<PyType>,
    pub(crate) kinds: Vec<(ErrorKind, Py<PyType>)>,
}

pub(crate) static ERRORS: PyOnceLock<ErrorClasses> = PyOnceLock::new();

fn class_dict<'py>(py: Python<'py>, doc: &str, code: i32) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", PACKAGE)?;
    dict.set_item("__doc__", doc)?;
    dict.set_item("code", code)?;
    Ok(dict)
}

pub(crate) fn make_error_classes(py: Python<'_>) -> PyResult<ErrorClasses> {
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
pub(crate) fn py_err(err: Error) -> PyErr {
    Python::attach(|py| match ERRORS.get(py) {
        Some(classes) => {
            let class = classes.kinds.iter().find(|(k, _)| *k == err.kind()).map_or(&classes.base, |(_, c)| c);
            PyErr::from_type(class.bind(py).clone(), err.to_string())
        }
        None => PyRuntimeError::new_err(err.to_string()),
    })
}

pub(crate) trait IntoPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}
