//! A replica's copy under `batch`: one sync per copied batch, and every batch a call
//! returned survives a power loss at any step, with no garbage.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::LocalCopy;
use crate::date::Date;
use crate::reader::Reader;
use crate::store::faults::FaultyVfs;
use crate::store::power_loss::PowerLossVfs;
use crate::store::{Durability, NewRecord, StoreOptions};

/// Batches as a master sends them: (day, record count, payload size). The third is too
/// large to be carried (its index entries are journaled, its data synced by the append).
const BATCHES: &[(&str, usize, usize)] = &[
    ("20261121", 3, 40),
    ("20261121", 1, 5000),
    ("20261121", 300, 2000),
    ("20261121", 2, 10),
    ("20261122", 4, 100),
    ("20261122", 1, 1),
    ("20261122", 50, 30),
];
const SEEDS: u64 = 4;

fn date(s: &str) -> Date {
    Date::from_folder_name(s).unwrap()
}

fn payload(batch: usize, i: usize, len: usize) -> Vec<u8> {
    let mut p = format!("b{batch}r{i}-").into_bytes();
    p.resize(len.max(p.len()), b'a' + (i % 26) as u8);
    p
}

fn opts(vfs: Arc<dyn crate::store::io::Vfs>) -> StoreOptions {
    StoreOptions { durability: Durability::Batch, vfs, ..Default::default() }
}

/// Copies the batches in order (a day finished before the next, the index synced after
/// the second batch, as `with_index_sync` would) until a call fails; the batches whose
/// `append_at` returned, as (date, first id, batch index).
fn copy_batches(copy: &mut LocalCopy) -> Vec<(Date, u64, usize)> {
    let mut acked = Vec::new();
    let mut next: HashMap<Date, u64> = HashMap::new();
    let mut day = None;
    for (b, &(d, n, len)) in BATCHES.iter().enumerate() {
        let date = date(d);
        if let Some(prev) = day.filter(|&prev| prev != date)
            && copy.store().finish_at(prev, next[&prev]).is_err()
        {
            break;
        }
        day = Some(date);
        let first = *next.entry(date).or_default();
        let data: Vec<_> = (0..n).map(|i| payload(b, i, len)).collect();
        let records: Vec<_> = data.iter().map(|p| NewRecord { time: 9, ty: 4, data: p }).collect();
        match copy.append_at(date, first, &records) {
            Ok(a) => {
                assert_eq!((a.first_id, a.count), (first, n as u64));
                acked.push((date, first, b));
                next.insert(date, first + n as u64);
            }
            Err(_) => break,
        }
        if b == 1 && copy.sync_index(true).is_err() {
            break;
        }
    }
    acked
}

/// Every record a reader finds is what the master sent at its place, and every batch
/// whose append returned is there.
fn check(dir: &Path, acked: &[(Date, u64, usize)], ctx: &str) {
    drop(LocalCopy::open(dir, StoreOptions::default()).unwrap());
    let mut expected = HashMap::new();
    let mut next: HashMap<&str, u64> = HashMap::new();
    for (b, &(d, n, len)) in BATCHES.iter().enumerate() {
        let id = next.entry(d).or_default();
        for i in 0..n {
            expected.insert((date(d), *id), payload(b, i, len));
            *id += 1;
        }
    }
    let mut seen = HashSet::new();
    for r in Reader::open(dir).unwrap() {
        let r = r.unwrap_or_else(|e| panic!("{ctx}: a reader fails after recovery: {e}"));
        let want = expected.get(&(r.date, r.id));
        assert!(want.is_some_and(|w| w[..] == r.data[..]), "{ctx}: record {} {} is not what was copied", r.date, r.id);
        seen.insert((r.date, r.id));
    }
    for &(date, first, b) in acked {
        for id in first..first + BATCHES[b].1 as u64 {
            assert!(seen.contains(&(date, id)), "{ctx}: record {date} {id}, copied and returned, was lost");
        }
    }
    let problems: Vec<_> = crate::store::verify::verify_store(&crate::store::io::StdVfs, dir)
        .unwrap()
        .into_iter()
        .filter_map(|d| d.problem.map(|p| p.what))
        .collect();
    assert!(problems.is_empty(), "{ctx}: verify: {problems:?}");
}

#[test]
fn a_small_copied_batch_waits_for_one_sync_the_journals() {
    let tmp = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let mut copy = LocalCopy::open(tmp.path(), opts(Arc::new(vfs.clone()))).unwrap();
    let day = date("20261121");
    let data = [7u8; 100];
    let records = vec![NewRecord { time: 1, ty: 2, data: &data[..] }; 20];
    // The first append opens the day (its folder and files are synced into place).
    copy.append_at(day, 0, &records).unwrap();
    let before = vfs.syncs();
    for i in 1..=10 {
        copy.append_at(day, i * 20, &records).unwrap();
    }
    assert_eq!(vfs.syncs() - before, 10, "one sync per copied batch: the journal's");
    // Due only after a second; forced, it syncs the data and the index.
    copy.sync_index(false).unwrap();
    assert_eq!(vfs.syncs() - before, 10);
    copy.sync_index(true).unwrap();
    assert_eq!(vfs.syncs() - before, 12, "the data and the index, once");
    drop(copy);
    check_day(tmp.path(), day, 220);
}

fn check_day(dir: &Path, day: Date, count: u64) {
    let n = Reader::open(dir).unwrap().filter(|r| r.as_ref().is_ok_and(|r| r.date == day)).count();
    assert_eq!(n as u64, count);
}

#[test]
fn copied_batches_survive_a_power_loss_at_any_step() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    let vfs = PowerLossVfs::new();
    let mut copy = LocalCopy::open(&clean, opts(Arc::new(vfs.clone()))).unwrap();
    let base = vfs.steps();
    let acked = copy_batches(&mut copy);
    let steps = vfs.steps() - base;
    drop(copy);
    assert_eq!(acked.len(), BATCHES.len());
    check(&clean, &acked, "no power loss");
    for n in 0..steps {
        for seed in 0..SEEDS {
            let dir = tmp.path().join(format!("{n}-{seed}"));
            let vfs = PowerLossVfs::new();
            let mut copy = LocalCopy::open(&dir, opts(Arc::new(vfs.clone()))).unwrap();
            vfs.lose_power_at(vfs.steps() + n, seed);
            let acked = copy_batches(&mut copy);
            drop(copy);
            check(&dir, &acked, &format!("power lost at step {n}, seed {seed}"));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
