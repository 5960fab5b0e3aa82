//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and every saved crash
//! (`fuzz/regressions/<target>/`) through the fuzz targets' bodies in
//! [`modsynclog_core::fuzzing`], on stable Rust: a fix that regresses fails `cargo test`
//! without anyone running libFuzzer.
//!
//! The seed corpus is written from the Go vectors (`shared/vectors`) and a few hand-built
//! inputs by the ignored test `write_seeds`:
//! `cargo test -p modsynclog-core --test fuzz_corpus -- --ignored write_seeds`.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use modsynclog_core::Date;
use modsynclog_core::fuzzing::{self, DayInput};
use modsynclog_core::server::dedup::Entry;
use prost::Message;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs every file of the target's corpus and regressions; fails naming each input that panics.
fn replay(target: &str) {
    let body = fuzzing::TARGETS.iter().find(|(name, _)| *name == target).expect("a known target").1;
    let mut failed = Vec::new();
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.expect("list the corpus").path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("read a corpus file");
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failed.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no corpus for {target} under {}", fuzz_dir().display());
    assert!(failed.is_empty(), "{target}: {} of {replayed} inputs panic:\n{}", failed.len(), failed.join("\n"));
}

#[test]
fn legacy_frame() {
    replay("legacy_frame");
}

#[test]
fn udata_batch() {
    replay("udata_batch");
}

#[test]
fn json_bodies() {
    replay("json_bodies");
}

#[test]
fn day_folder() {
    replay("day_folder");
}

#[test]
fn ingest_journal() {
    replay("ingest_journal");
}

#[test]
fn proto_messages() {
    replay("proto_messages");
}

#[test]
fn every_target_has_a_corpus_folder() {
    for (target, _) in fuzzing::TARGETS {
        assert!(fuzz_dir().join("corpus").join(target).is_dir(), "fuzz/corpus/{target} is missing");
    }
}

/// Writes `fuzz/corpus/<target>/seed-*` from the Go vectors and hand-built inputs.
#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seeds() {
    let vectors = common::vectors();
    let read = |path: &str| std::fs::read(vectors.join(path)).unwrap();
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();

    // legacy_frame: each Go frame, and a whole conversation in one stream.
    let mut conversation = Vec::new();
    for entry in std::fs::read_dir(vectors.join("frames")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(&path).unwrap();
            if !path.to_string_lossy().contains("sendflag123456") {
                conversation.extend_from_slice(&bytes);
            }
            seeds.push(("legacy_frame", path.file_stem().unwrap().to_string_lossy().into_owned(), bytes));
        }
    }
    seeds.push(("legacy_frame", "conversation".into(), conversation));

    // udata_batch: the Go batches (not the 72 KB one, which would raise libFuzzer's max_len).
    for name in ["udata_3rec_20261121_id0-2", "udata_1rec_20261121_id3", "udata_3rec_20261120_all"] {
        seeds.push(("udata_batch", name.into(), read(&format!("udata/{name}.bin"))));
    }

    // json_bodies: the Go 301 and 304 bodies, and a few neighbours.
    for (name, body) in [
        ("request", r#"{"date":"2026-11-21","id":0}"#),
        ("request-loose", r#" { "id" : 18446744073709551615 , "date" : "2024-02-29" } "#),
        ("request-escaped", r#"{"date":"2026-11-2\u0031","id":1e3}"#),
        ("dayend", "2026-11-20"),
        ("folder", "20261121"),
    ] {
        seeds.push(("json_bodies", name.into(), body.as_bytes().to_vec()));
    }

    // day_folder: the Go days, and damaged, finished and sparse variants.
    for (name, input) in day_seeds(&vectors) {
        seeds.push(("day_folder", name, input.encode()));
    }

    // ingest_journal: journals the server writes.
    let date = Date::parse("2026-11-21").unwrap();
    let entry = |p: &str, seq, first_id, count| Entry { producer: p.into(), seq, date, first_id, count };
    let journal = [entry("a", 1, 0, 10), entry("b", 1, 10, 5), entry("a", 2, 15, 1), entry("c", 9, 16, 4)];
    seeds.push(("ingest_journal", "three-producers".into(), fuzzing::journal_input(10, 20, &journal)));
    seeds.push(("ingest_journal", "beyond-the-store".into(), fuzzing::journal_input(10, 12, &journal)));
    seeds.push(("ingest_journal", "evicting".into(), fuzzing::journal_input(1, 100, &journal)));
    let mut torn = fuzzing::journal_input(10, 20, &journal);
    torn.truncate(torn.len() - 3);
    seeds.push(("ingest_journal", "torn".into(), torn));
    seeds.push(("ingest_journal", "empty".into(), fuzzing::journal_input(10, 0, &[])));
    // With index groups: the day's own (its CRC matches, so the store restores from it),
    // and one that claims more records than the day holds.
    let group = fuzzing::day_group();
    let mut longer = group.clone();
    longer.types.push((7, 2));
    let groups = [group, longer];
    seeds.push(("ingest_journal", "index-groups".into(), fuzzing::journal_input_with(10, 20, &journal, &groups)));
    // The same with a hole (eight zero bytes: a barrier a power loss took) before the groups.
    let at = fuzzing::journal_input(10, 20, &journal).len();
    let mut hole = fuzzing::journal_input_with(10, 20, &journal, &groups);
    hole.splice(at..at, [0u8; 8]);
    seeds.push(("ingest_journal", "a-hole-before-the-groups".into(), hole));

    // proto_messages: one message of each kind the services receive.
    for (name, bytes) in proto_seeds() {
        seeds.push(("proto_messages", name.into(), bytes));
    }

    for (target, name, bytes) in seeds {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

/// Seeds of the `day_folder` target.
fn day_seeds(vectors: &Path) -> Vec<(String, DayInput)> {
    let read = |path: &str| std::fs::read(vectors.join("store").join(path)).unwrap();
    let small = DayInput {
        index: Some(read("20261120/index")),
        data0: Some(read("20261120/data000000")),
        ..DayInput::default()
    };
    // The first six records of 2026-11-21 (record 6 is 70 000 bytes).
    let (index, data) = (read("20261121/index"), read("20261121/data000000"));
    let six_end = i64::from_be_bytes(index[6 * 12 + 2..6 * 12 + 10].try_into().unwrap()) as usize;
    let six =
        DayInput { index: Some(index[..6 * 12].to_vec()), data0: Some(data[..six_end].to_vec()), ..small.clone() };
    let mut seeds = vec![
        ("go-20261120".to_string(), small.clone()),
        ("go-20261121-six".to_string(), six.clone()),
        ("finished".into(), DayInput { finish: Some(Vec::new()), ..six.clone() }),
        ("finished-badly".into(), DayInput { finish: Some(b"x".to_vec()), ..small.clone() }),
        ("batch".into(), DayInput { batch: true, ..six.clone() }),
        ("no-index".into(), DayInput { index: None, ..small.clone() }),
        ("no-data".into(), DayInput { data0: None, ..small.clone() }),
        ("stale-data1".into(), DayInput { data1: Some(b"stale".to_vec()), ..small.clone() }),
    ];
    let cut = |input: &DayInput, index_cut: usize, data_cut: usize| {
        let mut input = input.clone();
        input.index.as_mut().unwrap().truncate(index_cut);
        input.data0.as_mut().unwrap().truncate(data_cut);
        input
    };
    let (index_len, data_len) = (six.index.as_ref().unwrap().len(), six.data0.as_ref().unwrap().len());
    seeds.push(("torn-entry".into(), cut(&six, index_len - 5, data_len)));
    seeds.push(("torn-record".into(), cut(&six, index_len, data_len - 3)));
    seeds.push(("trailing-bytes".into(), cut(&six, index_len - 12, data_len)));
    seeds.push(("torn-batch".into(), DayInput { batch: true, ..cut(&six, index_len - 7, data_len - 1) }));
    let mut damaged = six.clone();
    damaged.data0.as_mut().unwrap()[0] ^= 0xff; // the first record's magic
    seeds.push(("bad-magic-first".into(), damaged.clone()));
    seeds.push(("bad-magic-first-batch".into(), DayInput { batch: true, ..damaged }));

    // Sparse: records 999 998 and 999 999 in data000000 (after the hole's empty record at
    // offset 0), 1 000 000 and 1 000 001 in data000001.
    let record = |time: i32, data: &[u8]| {
        let mut out = vec![0x4b, 0x86];
        out.extend_from_slice(&time.to_be_bytes());
        out.extend_from_slice(&(data.len() as i32).to_be_bytes());
        out.extend_from_slice(data);
        out
    };
    let entry = |file: i16, offset: usize, ty: i16| {
        let mut out = file.to_be_bytes().to_vec();
        out.extend_from_slice(&(offset as i64).to_be_bytes());
        out.extend_from_slice(&ty.to_be_bytes());
        out
    };
    let (a, b, c, d) = (record(1, b"a"), record(2, b"bb"), record(3, b"ccc"), record(4, b""));
    let index = [entry(0, 10, 1), entry(0, 10 + a.len(), 2), entry(1, 0, 3), entry(1, c.len(), 4)].concat();
    let sparse = DayInput {
        sparse: true,
        index: Some(index),
        data0: Some([a, b].concat()),
        data1: Some([c, d].concat()),
        ..DayInput::default()
    };
    seeds.push(("sparse".into(), sparse.clone()));
    seeds.push(("sparse-batch".into(), DayInput { batch: true, ..sparse.clone() }));
    seeds.push(("sparse-batch-torn".into(), DayInput { batch: true, ..cut(&sparse, 12 * 3 + 4, 8) }));
    seeds
}

/// Seeds of the `proto_messages` target.
fn proto_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use modsynclog_core::proto::legacy::{AppLogRequest, DbLogRequest};
    use modsynclog_core::proto::v1::{
        AppendRequest, DayStart, Record, RecordBatch, StoredRecord, SubscribeRequest, SyncEvent, sync_event::Event,
    };
    let record = |ty, data: &'static [u8]| Record { r#type: ty, data: Bytes::from_static(data) };
    let append = AppendRequest {
        batch_seq: 42,
        records: vec![record(1201, b"hello"), record(-1, b""), record(70_000, b"wide type")],
        producer_id: "producer-0123456789abcdef".into(),
    };
    let batch = SyncEvent {
        event: Some(Event::Batch(RecordBatch {
            date: "2026-11-21".into(),
            first_id: 3,
            records: vec![StoredRecord { time: 1_795_190_400, r#type: 1, data: Bytes::from_static(b"x") }],
        })),
    };
    let start = SyncEvent { event: Some(Event::Start(DayStart { date: "2026-11-21".into(), id: 0 })) };
    vec![
        ("append", append.encode_to_vec()),
        ("append-anonymous", AppendRequest { producer_id: String::new(), ..append }.encode_to_vec()),
        ("db-log", DbLogRequest { data_type: 1001, data: Bytes::from_static(b"{\"sql\":1}") }.encode_to_vec()),
        ("app-log", AppLogRequest { data_type: -70_000, data: Bytes::from_static(b"app") }.encode_to_vec()),
        ("subscribe", SubscribeRequest { date: "2026-11-21".into(), id: 7 }.encode_to_vec()),
        ("event-batch", batch.encode_to_vec()),
        ("event-start", start.encode_to_vec()),
    ]
}

/// Found while writing the `day_folder` target: appending to a finished day was refused
/// (`Conflict`), but only after `DayWriter::open` had run its tail recovery, which cut
/// bytes after the last record of the finished day. Finished days are never changed.
#[test]
fn a_refused_append_leaves_a_finished_day_alone() {
    use modsynclog_core::store::{Durability, NewRecord, Store, StoreOptions};
    let tmp = tempfile::tempdir().unwrap();
    let date = Date::parse("2026-11-21").unwrap();
    let opts = || StoreOptions { durability: Durability::Never, ..Default::default() };
    let mut store = Store::open(tmp.path(), opts()).unwrap();
    store.append(date, &[NewRecord { time: 1, ty: 1, data: b"abc" }]).unwrap();
    store.finish(date).unwrap();
    drop(store);
    let data = tmp.path().join(date.folder_name()).join("data000000");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes.extend_from_slice(b"damage");
    std::fs::write(&data, &bytes).unwrap();

    let mut store = Store::open(tmp.path(), opts()).unwrap();
    let err = store.append(date, &[NewRecord { time: 1, ty: 1, data: b"x" }]).unwrap_err();
    assert_eq!(err.kind(), modsynclog_core::ErrorKind::Conflict);
    assert_eq!(std::fs::read(&data).unwrap(), bytes, "the refused append changed the finished day");
}
