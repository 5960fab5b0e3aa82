//! Target for day folders: whatever a crash, a bad disk or another program left in a day
//! folder goes through the reader, `verify`, and recovery when a [`Store`] opens it.
//!
//! The input is one day folder, laid out as [`DayInput`] says. The checks:
//!
//! - `verify` and the reader never panic, and agree: the reader does not fail on a record
//!   `verify` passed, and reads every record of a day `verify` finds clean;
//! - recovery `strict` opens exactly the days `verify` finds clean (or finished, which it
//!   does not check), and opening changes no file; after an append the day verifies clean;
//! - recovery `tail` always opens; under `never` (whole-day check) it keeps exactly the
//!   records `verify` passed, and after an append the day verifies clean; under `batch`
//!   (tail check only) it keeps at least those; the appended record reads back; opening
//!   again changes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::date::Date;
use crate::error::ErrorKind;
use crate::reader::Reader;
use crate::store::format::{
    FINISH_FILE, INDEX_ENTRY_LEN, INDEX_FILE, MAGIC, RECORD_HEADER_LEN, RECORDS_PER_DATA_FILE, data_file_name,
};
use crate::store::io::StdVfs;
use crate::store::verify::{DayReport, verify_day, verify_store};
use crate::store::{Durability, NewRecord, Recovery, Store, StoreOptions};

use super::scratch::Scratch;

/// In sparse mode the input's index entries start at this id, so that they straddle the
/// first data-file boundary (id 1 000 000) without a 12 MB input; the entries before it
/// are a hole of zeros, all pointing at an empty record at offset 0 of `data000000`.
const SPARSE_FIRST: u64 = RECORDS_PER_DATA_FILE - 2;

/// The record the target appends after recovery.
const APPENDED: NewRecord<'static> = NewRecord { time: 1_795_190_400, ty: 1201, data: b"appended by the fuzzer" };

/// One day folder, as the `day_folder` target reads it from its input:
///
/// ```text
/// flags: u8 | index_len: u32 BE | data0_len: u32 BE | index | data000000 | data000001
/// ```
///
/// Each length is taken modulo what is left plus one, so any value splits the rest
/// somewhere; `data000001` gets what remains. Flags: `0x01` a `finish` file, `0x02` it
/// holds one byte, `0x04` write `data000001`, `0x08` sparse mode (see [`SPARSE_FIRST`]),
/// `0x10` recovery `tail` under `batch` (else `never`), `0x20` no `index` file, `0x40` no
/// `data000000` file (ignored in sparse mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayInput {
    pub finish: Option<Vec<u8>>,
    pub sparse: bool,
    pub batch: bool,
    pub index: Option<Vec<u8>>,
    pub data0: Option<Vec<u8>>,
    pub data1: Option<Vec<u8>>,
}

impl DayInput {
    const HEADER: usize = 9;

    pub fn parse(data: &[u8]) -> Option<DayInput> {
        let (head, mut rest) = data.split_first_chunk::<{ DayInput::HEADER }>()?;
        let flags = head[0];
        let mut take = |len: [u8; 4]| {
            let n = (u32::from_be_bytes(len) as usize) % (rest.len() + 1);
            let (taken, left) = rest.split_at(n);
            rest = left;
            taken.to_vec()
        };
        let index = take(head[1..5].try_into().expect("4 bytes"));
        let data0 = take(head[5..9].try_into().expect("4 bytes"));
        let data1 = rest.to_vec();
        Some(DayInput {
            finish: (flags & 0x01 != 0).then(|| if flags & 0x02 != 0 { b"x".to_vec() } else { Vec::new() }),
            sparse: flags & 0x08 != 0,
            batch: flags & 0x10 != 0,
            index: (flags & 0x20 == 0).then_some(index),
            // The hole's record lives in data000000: without it, recovery would walk back
            // through a million entries (a slow input, not a bug).
            data0: (flags & 0x40 == 0 || flags & 0x08 != 0).then_some(data0),
            data1: (flags & 0x04 != 0).then_some(data1),
        })
    }

    /// The input that [`parse`](DayInput::parse)s back to `self` (for seeds).
    pub fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.finish.is_some())
            | if self.finish.as_ref().is_some_and(|f| !f.is_empty()) { 0x02 } else { 0 }
            | if self.data1.is_some() { 0x04 } else { 0 }
            | if self.sparse { 0x08 } else { 0 }
            | if self.batch { 0x10 } else { 0 }
            | if self.index.is_none() { 0x20 } else { 0 }
            | if self.data0.is_none() { 0x40 } else { 0 };
        let (index, data0) = (self.index.as_deref().unwrap_or(&[]), self.data0.as_deref().unwrap_or(&[]));
        let mut out = vec![flags];
        out.extend_from_slice(&(index.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data0.len() as u32).to_be_bytes());
        out.extend_from_slice(index);
        out.extend_from_slice(data0);
        out.extend_from_slice(self.data1.as_deref().unwrap_or(&[]));
        out
    }

    /// Writes the day folder of `date` under `root`, replacing whatever was there.
    fn write(&self, root: &Path, date: Date) {
        let dir = root.join(date.folder_name());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the day folder");
        let put = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write a day file");
        if let Some(index) = &self.index {
            if self.sparse {
                use std::os::unix::fs::FileExt;
                let f = std::fs::File::create(dir.join(INDEX_FILE)).expect("create the index");
                f.set_len(SPARSE_FIRST * INDEX_ENTRY_LEN as u64).expect("extend the index");
                f.write_all_at(index, SPARSE_FIRST * INDEX_ENTRY_LEN as u64).expect("write the index");
            } else {
                put(INDEX_FILE, index);
            }
        }
        if let Some(data0) = &self.data0 {
            if self.sparse {
                let mut empty = [0u8; RECORD_HEADER_LEN];
                empty[..2].copy_from_slice(&MAGIC.to_be_bytes());
                put(&data_file_name(0), &[&empty[..], data0].concat());
            } else {
                put(&data_file_name(0), data0);
            }
        }
        if let Some(data1) = &self.data1 {
            put(&data_file_name(1), data1);
        }
        if let Some(finish) = &self.finish {
            put(FINISH_FILE, finish);
        }
    }

    /// Whole entries the index holds (hole included).
    fn entries(&self) -> u64 {
        let Some(index) = &self.index else { return 0 };
        let hole = if self.sparse { SPARSE_FIRST } else { 0 };
        hole + (index.len() / INDEX_ENTRY_LEN) as u64
    }
}

/// `data` is a day folder, laid out as [`DayInput`] says; see the module docs for the checks.
pub fn day_folder(data: &[u8]) {
    let Some(input) = DayInput::parse(data) else { return };
    let date = Date::from_ymd(2026, 11, 21).expect("a calendar date");
    let scratch = Scratch::new();
    let root = scratch.path();

    input.write(root, date);
    let before = verify_day(&StdVfs, root, date).expect("verify fails only on I/O errors");
    assert_eq!(verify_store(&StdVfs, root).expect("verify_store"), vec![before.clone()]);
    read_all(root, date, &input, &before);
    open_strict(root, date, &input, &before);
    input.write(root, date);
    open_tail(root, date, &input, &before);
}

/// Reads the day with a [`Reader`], checking it against `verify`'s report.
fn read_all(root: &Path, date: Date, input: &DayInput, before: &DayReport) {
    // Reading the sparse hole would take a million steps; start where the input's entries do.
    let start = if input.sparse { SPARSE_FIRST } else { 0 };
    let mut reader = Reader::open(root).expect("the store folder exists").from(date, start);
    let mut id = start;
    let failed = loop {
        match reader.next() {
            None => break None,
            Some(Ok(r)) => {
                assert_eq!((r.date, r.id), (date, id), "the reader skipped or repeated a record");
                id += 1;
            }
            Some(Err(e)) => break Some(e),
        }
    };
    match &failed {
        Some(e) => {
            assert!(matches!(e.kind(), ErrorKind::Corrupt | ErrorKind::NotFound), "reader: {e}");
            assert!(input.sparse || id >= before.count, "the reader fails at record {id}, which verify passed: {e}");
        }
        None => assert_eq!(id, input.entries().max(start), "the reader ended early"),
    }
    if before.problem.is_none() {
        assert!(failed.is_none(), "the reader fails on a day verify finds clean");
        assert_eq!(id, before.count, "the reader and verify count the records differently");
    }
}

/// Opens the store with recovery `strict`: only a clean (or finished) day opens.
fn open_strict(root: &Path, date: Date, input: &DayInput, before: &DayReport) {
    let opts = StoreOptions { durability: Durability::Never, recovery: Recovery::Strict, ..Default::default() };
    let files = snapshot(root, date);
    let opened = Store::open(root, opts);
    assert_eq!(snapshot(root, date), files, "opening with recovery strict changed the day's files");
    let mut store = match opened {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Corrupt, "strict: {e}");
            assert!(before.problem.is_some() && !before.finished, "recovery strict refused a day verify passes: {e}");
            return;
        }
        Ok(store) => store,
    };
    assert!(before.problem.is_none() || before.finished, "recovery strict opened a damaged day: {before:?}");
    if before.finished {
        return; // appending to a finished day: see open_tail
    }
    let count = store.count(date).expect("count");
    assert_eq!(count, input.entries(), "recovery strict changed the record count");
    let appended = store.append(date, &[APPENDED]).expect("append after recovery strict");
    assert_eq!(appended.first_id, count);
    drop(store);
    let after = verify_day(&StdVfs, root, date).expect("verify");
    assert_eq!(after.problem, None, "the day is damaged after an append");
    assert_eq!(after.count, count + 1);
    read_back(root, date, count);
}

/// Opens the store with recovery `tail`, which must always succeed, and appends.
fn open_tail(root: &Path, date: Date, input: &DayInput, before: &DayReport) {
    let durability = if input.batch { Durability::Batch } else { Durability::Never };
    let opts = StoreOptions { durability, recovery: Recovery::Tail, ..Default::default() };
    let mut store = Store::open(root, opts.clone()).unwrap_or_else(|e| panic!("recovery tail refused to open: {e}"));
    if before.finished {
        let err = store.append(date, &[APPENDED]).expect_err("appended to a finished day");
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        return;
    }
    let count = store.count(date).expect("count");
    if input.batch {
        // Only the tail is checked: it keeps at least what verify passes, at most everything.
        assert!((before.count..=input.entries()).contains(&count), "kept {count} records: {before:?}");
    } else {
        assert_eq!(count, before.count, "recovery tail kept other records than verify passes: {before:?}");
    }
    let appended = store.append(date, &[APPENDED]).unwrap_or_else(|e| panic!("append after recovery tail: {e}"));
    assert_eq!(appended.first_id, count);
    drop(store);
    let after = verify_day(&StdVfs, root, date).expect("verify");
    if !input.batch || before.problem.is_none() {
        assert_eq!(after.problem, None, "the day does not verify clean after recovery tail and an append");
        assert_eq!(after.count, count + 1);
    }
    read_back(root, date, count);
    // Recovery is done: opening again cuts nothing.
    let store = Store::open(root, opts).unwrap_or_else(|e| panic!("reopening after recovery tail: {e}"));
    assert_eq!(store.count(date).expect("count"), count + 1, "a second recovery changed the day");
}

/// Checks that record `id` of `date` is the one the target appended.
fn read_back(root: &Path, date: Date, id: u64) {
    let mut reader = Reader::open(root).expect("the store folder exists").from(date, id);
    let r = match reader.next() {
        Some(Ok(r)) => r,
        other => panic!("the appended record {id} does not read back: {other:?}"),
    };
    assert_eq!((r.id, r.time, r.ty, &r.data[..]), (id, APPENDED.time, APPENDED.ty, APPENDED.data));
}

/// The day's files and their contents (lengths only for files over 1 MiB, the sparse index).
fn snapshot(root: &Path, date: Date) -> BTreeMap<String, (u64, Vec<u8>)> {
    let dir = root.join(date.folder_name());
    let Ok(entries) = std::fs::read_dir(&dir) else { return BTreeMap::new() };
    let mut files = BTreeMap::new();
    for entry in entries {
        let entry = entry.expect("list the day folder");
        let len = entry.metadata().expect("stat").len();
        let bytes = if len <= 1 << 20 { std::fs::read(entry.path()).expect("read") } else { Vec::new() };
        files.insert(entry.file_name().to_string_lossy().into_owned(), (len, bytes));
    }
    files
}
