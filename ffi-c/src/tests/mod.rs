//! Unit tests of the C ABI's internals: status numbers, caught panics, record dates.
//! (The C programs in `ffi-c/tests/` test the ABI from C.)

use std::ffi::CStr;

use modsynclog_core::{Date, ErrorKind};

use crate::error::{MslStatus, call, msl_last_error, msl_last_error_code};
use crate::reader::date_field;

/// `InvalidArgument` -> `INVALID_ARGUMENT`, `Io` -> `IO`.
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Every core kind has its C status: the same number, named `MSL_` + the kind's name in
/// SCREAMING_SNAKE, both in `MslStatus` and in the committed header.
#[test]
fn statuses_match_core_codes() {
    let header = include_str!("../../include/modsynclog.h");
    let constants: Vec<(&str, i32)> = header
        .lines()
        .filter_map(|l| {
            let (name, value) = l.trim().trim_end_matches(',').split_once(" = ")?;
            Some((name.strip_prefix("MSL_")?, value.parse().ok()?))
        })
        .collect();
    for kind in ErrorKind::ALL {
        let status = MslStatus::from_kind(kind);
        let name = screaming_snake(kind.name());
        assert_eq!(status as i32, kind.code(), "{kind}");
        assert_eq!(format!("{status:?}"), format!("MSL_{name}"), "the C name of {kind}");
        assert!(
            constants.contains(&(name.as_str(), kind.code())),
            "include/modsynclog.h lacks MSL_{name} = {} (kind {kind}); constants: {constants:?}",
            kind.code()
        );
    }
    // The header's other statuses are not kinds.
    let extra: Vec<_> =
        constants.iter().filter(|(n, _)| !ErrorKind::ALL.iter().any(|k| screaming_snake(k.name()) == *n)).collect();
    assert_eq!(extra, [&("OK", 0), &("END", 100), &("PANIC", 101)]);
    assert_eq!(MslStatus::MSL_END as i32, 100);
    assert_eq!(MslStatus::MSL_PANIC as i32, 101);
}

#[test]
fn panics_become_a_status() {
    let status = call(|| panic!("boom"));
    assert_eq!(status, MslStatus::MSL_PANIC);
    assert_eq!(msl_last_error_code(), MslStatus::MSL_PANIC);
    // SAFETY: msl_last_error never returns NULL.
    let msg = unsafe { CStr::from_ptr(msl_last_error()) }.to_str().unwrap();
    assert!(msg.contains("boom"), "{msg}");
}

#[test]
fn dates_are_nul_terminated() {
    let d = date_field(Date::parse("2024-02-29").unwrap());
    // SAFETY: the array is NUL-terminated.
    let s = unsafe { CStr::from_ptr(d.as_ptr()) };
    assert_eq!(s.to_str().unwrap(), "2024-02-29");
}

/// `msl_producer_options` is allocated by C programs built against older headers: its size
/// and field offsets must never change (new options go to `msl_producer_config`).
#[test]
#[cfg(target_pointer_width = "64")]
fn producer_options_layout_is_frozen() {
    use std::mem::{offset_of, size_of};

    use crate::producer::MslProducerOptions as O;
    assert_eq!(size_of::<O>(), 64);
    let offsets = [
        offset_of!(O, token),
        offset_of!(O, batch_max_records),
        offset_of!(O, batch_max_bytes),
        offset_of!(O, linger_ms),
        offset_of!(O, queue_capacity),
        offset_of!(O, enqueue_timeout_ms),
        offset_of!(O, max_record_len),
        offset_of!(O, legacy),
    ];
    assert_eq!(offsets, [0, 8, 16, 24, 32, 40, 48, 56]);
}

#[test]
fn permission_denied_is_15() {
    assert_eq!(MslStatus::MSL_PERMISSION_DENIED as i32, 15);
    assert_eq!(MslStatus::from_kind(ErrorKind::PermissionDenied), MslStatus::MSL_PERMISSION_DENIED);
}

#[test]
fn no_space_is_16() {
    assert_eq!(MslStatus::MSL_NO_SPACE as i32, 16);
    assert_eq!(MslStatus::from_kind(ErrorKind::NoSpace), MslStatus::MSL_NO_SPACE);
}
