//! Python bindings of modsynclog: the extension module `modsynclog._modsynclog`.
//!
//! Thin on purpose: argument conversion, error mapping and releasing the GIL around every
//! call that may wait. The behaviour lives in `modsynclog-core`; the pure-Python package
//! `modsynclog` (python/modsynclog/) re-exports what is defined here.
//!
//! Modules: `error` (the exception classes and the mapping of core errors onto them),
//! `convert` (payloads and timeouts from Python values), `global` (the process-wide SDK
//! functions), `producer` (`Producer`), `reader` (`Reader` and `Record`), `columns`
//! (`Columns`, the batches of `Reader.next_columns`) and `stub`
//! (the typed stub `modsynclog/__init__.pyi`, from the `gen_stub_*` annotations, written
//! by `src/bin/stub_gen.rs`). This root only assembles the extension module.

use modsynclog_core::sdk;
use pyo3::prelude::*;

mod columns;
mod convert;
mod error;
mod global;
mod producer;
mod reader;
pub mod stub;

use columns::PyColumns;
use error::{ERRORS, make_error_classes};
use producer::PyProducer;
use reader::{PyReader, PyRecord};

#[pymodule]
fn _modsynclog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes = ERRORS.get_or_try_init(py, || make_error_classes(py))?;
    m.add("Error", classes.base.bind(py))?;
    for (kind, class) in &classes.kinds {
        m.add(format!("{}Error", kind.name()).as_str(), class.bind(py))?;
    }
    m.add_function(wrap_pyfunction!(global::init, m)?)?;
    m.add_function(wrap_pyfunction!(global::commit, m)?)?;
    m.add_function(wrap_pyfunction!(global::try_commit, m)?)?;
    m.add_function(wrap_pyfunction!(global::flush, m)?)?;
    m.add_function(wrap_pyfunction!(global::close, m)?)?;
    m.add_class::<PyProducer>()?;
    m.add_class::<PyReader>()?;
    m.add_class::<PyRecord>()?;
    m.add_class::<PyColumns>()?;
    m.add("TYPE_DB_LOG", sdk::TYPE_DB_LOG)?;
    m.add("TYPE_APP_LOG", sdk::TYPE_APP_LOG)?;
    m.add("TYPE_JSON_LOG", sdk::TYPE_JSON_LOG)?;
    m.add("CLOSE_TIMEOUT", sdk::global::CLOSE_TIMEOUT.as_secs_f64())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
