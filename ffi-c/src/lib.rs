//! C ABI of modsynclog (in progress).
