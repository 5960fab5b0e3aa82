//! Writes the stub `python/modsynclog/__init__.pyi` from the annotations of the extension
//! module (pyo3-stub-gen; see `src/stub.rs`). With `--check` it writes nothing and fails
//! when the committed file differs from what it would write (python/test.sh runs that).
//!
//! `cargo run -p modsynclog-python --bin stub_gen [-- --check]`

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: stub_gen [--check] (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    if std::env::var_os("CARGO_MANIFEST_DIR").is_none() {
        // pyo3-stub-gen 0.23.2 reads it at run time (set by `cargo run`; not when the binary
        // is started directly).
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("CARGO_MANIFEST_DIR", manifest_dir) };
    }
    let path = Path::new(manifest_dir).join("modsynclog").join("__init__.pyi");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let want = match _modsynclog::stub::render(&current) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("stub_gen: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if !check {
        if let Err(e) = std::fs::write(&path, &want) {
            eprintln!("stub_gen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
        return ExitCode::SUCCESS;
    }
    match _modsynclog::stub::staleness(&current, &want) {
        None => ExitCode::SUCCESS,
        Some(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
