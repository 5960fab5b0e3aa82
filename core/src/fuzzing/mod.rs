//! Bodies of the coverage-guided fuzz targets, one function per decoder of bytes that come
//! from outside the process: the legacy sync socket's frames and bodies, day folders on
//! disk, the ingest journal, and the gRPC request messages.
//!
//! They live in the core rather than in the cargo-fuzz crate (`fuzz/`) so that the same
//! code runs under libFuzzer (`scripts/fuzz.sh`, `cargo +nightly fuzz run <target>`) and in
//! the stable test suite, which replays the committed corpus and every saved crash
//! (`core/tests/fuzz_corpus.rs`). Each function must return normally for every input, soon
//! and in bounded memory: a panic (a failed invariant `assert!` included) or a hang is a bug
//! in the code under test, never in the input. Not part of the public API.
//!
//! | target | what it feeds | file |
//! |---|---|---|
//! | [`legacy_frame`] | a byte stream to the frame decoder and to the async frame reader | `wire.rs` |
//! | [`udata_batch`] | a 302 batch body to `decode_batch` | `wire.rs` |
//! | [`json_bodies`] | a 301 / 304 body to their decoders | `wire.rs` |
//! | [`day_folder`] | a day folder to the reader, `verify` and recovery | `store.rs` |
//! | [`ingest_journal`] | an ingest journal file to `Store::open` (index groups) and `Journal::open` | `journal.rs` |
//! | [`proto_messages`] | protobuf bytes to every request type and its validation | `proto.rs` |

mod journal;
mod proto;
mod scratch;
mod store;
mod wire;

pub use journal::{day_group, ingest_journal, journal_input, journal_input_with};
pub use proto::proto_messages;
pub use store::{DayInput, day_folder};
pub use wire::{json_bodies, legacy_frame, udata_batch};

/// The body of a fuzz target.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, for replaying a corpus folder named after its target.
pub const TARGETS: &[(&str, Target)] = &[
    ("legacy_frame", legacy_frame),
    ("udata_batch", udata_batch),
    ("json_bodies", json_bodies),
    ("day_folder", day_folder),
    ("ingest_journal", ingest_journal),
    ("proto_messages", proto_messages),
];
