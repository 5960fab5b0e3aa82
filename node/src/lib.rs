//! Node.js bindings of modsynclog (in progress).
