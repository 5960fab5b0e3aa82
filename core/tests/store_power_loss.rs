//! Power loss at every step of a write, under each fsync policy: a [`PowerLossVfs`] keeps
//! what was synced plus, per seed, a prefix (the last write torn) or any subset of the
//! writes since. After reopening (recovery runs) a reader must never see a record that
//! was not written at its place, and under `batch` every acknowledged record is there.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use modsynclog_core::store::power_loss::PowerLossVfs;
use modsynclog_core::{Date, Durability, NewRecord, Reader, Store, StoreOptions};

/// Batches: (day, record count, payload size). One is over 1 MiB (written in pieces).
const BATCHES: &[(&str, usize, usize)] = &[
    ("2026-11-21", 3, 40),
    ("2026-11-21", 1, 5000),
    ("2026-11-21", 700, 2000),
    ("2026-11-21", 2, 10),
    ("2026-11-22", 4, 100),
    ("2026-11-22", 1, 1),
];
const SEEDS: u64 = 6;

fn payload(batch: usize, i: usize, len: usize) -> Vec<u8> {
    let mut p = format!("b{batch}r{i}-").into_bytes();
    p.resize(len.max(p.len()), b'a' + (i % 26) as u8);
    p
}

/// What a run acknowledged: (date, first id, batch index).
type Acked = Vec<(Date, u64, usize)>;

/// Runs the batches (each day finished before the next) until the power goes at `at`.
fn run(dir: &Path, durability: Durability, at: Option<(u64, u64)>) -> (Acked, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let vfs = PowerLossVfs::new();
    let opts = StoreOptions { durability, vfs: Arc::new(vfs.clone()), ..Default::default() };
    let mut store = Store::open(dir, opts).unwrap();
    let base = vfs.steps();
    if let Some((n, seed)) = at {
        vfs.lose_power_at(base + n, seed);
    }
    let mut acked = Acked::new();
    let mut day = None;
    for (b, &(d, n, len)) in BATCHES.iter().enumerate() {
        let date = common::date(d);
        if day.is_some_and(|prev| prev != date) && store.finish(day.unwrap()).is_err() {
            break;
        }
        day = Some(date);
        let data: Vec<_> = (0..n).map(|i| payload(b, i, len)).collect();
        let records: Vec<_> = data.iter().map(|p| NewRecord { time: 9, ty: 4, data: p }).collect();
        match store.append(date, &records) {
            Ok(a) => acked.push((a.date, a.first_id, b)),
            Err(_) => break,
        }
    }
    let steps = vfs.steps() - base;
    drop(store);
    (acked, steps)
}

fn check(dir: &Path, durability: Durability, acked: &Acked, ctx: &str) {
    drop(Store::open(dir, StoreOptions { durability, ..Default::default() }).unwrap());
    // What each (date, id) was written as: batches land in order, ids follow on.
    let mut expected = std::collections::HashMap::new();
    let mut next = std::collections::HashMap::new();
    for (b, &(d, n, len)) in BATCHES.iter().enumerate() {
        let id: &mut u64 = next.entry(d).or_default();
        for i in 0..n {
            expected.insert((common::date(d), *id), payload(b, i, len));
            *id += 1;
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in Reader::open(dir).unwrap() {
        let r = r.unwrap_or_else(|e| panic!("{ctx}: a reader fails after recovery: {e}"));
        let want = expected.get(&(r.date, r.id));
        let shown = |d: &[u8]| format!("{} bytes {:?}..", d.len(), String::from_utf8_lossy(&d[..d.len().min(12)]));
        assert!(
            want.is_some_and(|w| w[..] == r.data[..]),
            "{ctx}: record {} {} is {}, not what was written ({})",
            r.date,
            r.id,
            shown(&r.data),
            want.map_or("nothing".into(), |w| shown(w))
        );
        seen.insert((r.date, r.id));
    }
    if durability == Durability::Batch {
        for &(date, first, b) in acked {
            for id in first..first + BATCHES[b].1 as u64 {
                assert!(seen.contains(&(date, id)), "{ctx}: acknowledged record {date} {id} was lost");
            }
        }
    }
}

fn every_step(durability: Durability) {
    let tmp = tempfile::tempdir().unwrap();
    let (acked, steps) = run(&tmp.path().join("clean"), durability, None);
    assert_eq!(acked.len(), BATCHES.len());
    check(&tmp.path().join("clean"), durability, &acked, "no power loss");
    for n in 0..steps {
        for seed in 0..SEEDS {
            let dir = tmp.path().join(format!("{n}-{seed}"));
            let (acked, _) = run(&dir, durability, Some((n, seed)));
            check(&dir, durability, &acked, &format!("{durability:?}, power lost at step {n}, seed {seed}"));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn batch_keeps_every_acknowledged_record_and_shows_no_garbage() {
    every_step(Durability::Batch);
}

#[test]
fn interval_shows_no_garbage() {
    every_step(Durability::Interval(Duration::from_millis(1)));
}

#[test]
fn never_shows_no_garbage() {
    every_step(Durability::Never);
}
