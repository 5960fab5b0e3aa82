//! Fuzz target `proto_messages`: a thin shell around [`modsynclog_core::fuzzing::proto_messages`], where the
//! body and its invariants live (the stable test `core/tests/fuzz_corpus.rs` runs it too).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modsynclog_core::fuzzing::proto_messages(data));
