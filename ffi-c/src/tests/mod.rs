//! Unit tests of the C ABI's internals: status numbers, caught panics, record dates.
//! (The C programs in `ffi-c/tests/` test the ABI from C.)

use std::ffi::CStr;

use modsynclog_core::{Date, ErrorKind};

use crate::error::{MslStatus, call, msl_last_error, msl_last_error_code};
use crate::reader::date_field;

#[test]
fn statuses_match_core_codes() {
    for kind in ErrorKind::ALL {
        assert_eq!(MslStatus::from_kind(kind) as i32, kind.code(), "{kind}");
    }
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
