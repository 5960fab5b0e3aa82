//! Python bindings of modsynclog (in progress).
