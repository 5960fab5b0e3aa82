//! The committed `include/modsynclog.h` must equal what cbindgen generates from the sources.
//! `MSL_UPDATE_HEADER=1 cargo test -p modsynclog-ffi --test header` rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/modsynclog.h"));
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/modsynclog.h");
    if std::env::var_os("MSL_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&committed_path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi-c/include/modsynclog.h is stale (it differs from what cbindgen generates from ffi-c/src).\n\
         Regenerate it with: MSL_UPDATE_HEADER=1 cargo test -p modsynclog-ffi --test header\n\
         and commit the result."
    );
}
