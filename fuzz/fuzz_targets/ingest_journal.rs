//! Fuzz target `ingest_journal`: a thin shell around [`modsynclog_core::fuzzing::ingest_journal`], where the
//! body and its invariants live (the stable test `core/tests/fuzz_corpus.rs` runs it too).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| modsynclog_core::fuzzing::ingest_journal(data));
