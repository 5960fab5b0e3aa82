//! C ABI of modsynclog: `libmodsynclog.so` / `libmodsynclog.a` and `include/modsynclog.h`.
//!
//! This crate only converts types and maps errors; every behaviour lives in
//! `modsynclog-core`. Rules every entry point follows:
//!
//! * it never unwinds into C: a panic is caught and reported as `MSL_PANIC`;
//! * a NULL pointer where one is required, or a string that is not UTF-8, gives
//!   `MSL_INVALID_ARGUMENT` with a message;
//! * its outcome is recorded for the calling thread: `msl_last_error()` /
//!   `msl_last_error_code()` describe the last call on that thread;
//! * nothing is handed out without a matching `*_free`.
//!
//! Modules, one per concept (the C names are all re-exported at the crate root):
//!
//! * `args`: checks and converts C arguments (strings, byte buffers, timeouts);
//! * `error`: `msl_status`, the per-thread outcome behind `msl_last_error`, and the
//!   panic-catching wrapper every entry point runs in;
//! * `global`: the global SDK (`msl_init`, `msl_init_with_config`, `msl_commit`,
//!   `msl_try_commit`, `msl_flush`, `msl_close`);
//! * `producer`: `msl_producer` objects and their options (`msl_producer_options`, frozen
//!   for binary compatibility, and the growable opaque `msl_producer_config`);
//! * `reader`: `msl_reader` and the `msl_record` it returns;
//! * `reader_columns`: `msl_reader_next_columns` and the `msl_columns` it fills in.
//!
//! cbindgen writes the header's functions in module order, and rustfmt sorts `mod` lines:
//! the names above keep the header's order (errors, global SDK, producers, readers,
//! columns).

#![allow(non_camel_case_types)]

mod args;
mod error;
mod global;
mod producer;
mod reader;
mod reader_columns;
#[cfg(test)]
mod tests;

pub use error::{MslStatus, msl_last_error, msl_last_error_code, msl_version};
pub use global::{
    msl_close, msl_commit, msl_flush, msl_init, msl_init_with_config, msl_init_with_options, msl_try_commit,
};
pub use producer::{
    MslProducer, MslProducerConfig, MslProducerOptions, msl_producer_close, msl_producer_commit,
    msl_producer_config_free, msl_producer_config_new, msl_producer_config_set_options,
    msl_producer_config_set_queue_bytes, msl_producer_config_set_tls, msl_producer_flush, msl_producer_free,
    msl_producer_new, msl_producer_new_with_config, msl_producer_options_default, msl_producer_try_commit,
};
pub use reader::{
    MslReader, MslRecord, msl_reader_free, msl_reader_next, msl_reader_next_batch, msl_reader_open, msl_reader_stop,
};
pub use reader_columns::{MslColumns, msl_reader_next_columns};
