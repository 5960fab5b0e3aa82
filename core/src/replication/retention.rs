//! The replica's local decisions: which day to ask for first, and which days to delete.
//!
//! Both only look at the local store, so they can run before the server answers.

use crate::date::Date;
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;

/// The original's rules on a replica's days: `history_days <= 0`, and `retain_days`
/// (when set) `<= -1` and `<= history_days`; [`ErrorKind::InvalidArgument`] otherwise.
pub fn check_days(history_days: i64, retain_days: Option<i64>) -> Result<()> {
    if history_days > 0 {
        return Err(Error::invalid(format!("history_days is {history_days}, it must be 0 or negative")));
    }
    if let Some(retain) = retain_days
        && (retain > -1 || retain > history_days)
    {
        return Err(Error::invalid(format!(
            "retain_days is {retain}; it must be -1 or less and at most history_days ({history_days})"
        )));
    }
    Ok(())
}

/// The first day a replica still needs: the earliest day from `today + history_days` on
/// that is not finished locally (a restart resumes there instead of re-asking for days
/// it already holds whole). Never later than `today`, unless the replica holds a later
/// day already: a master whose calendar is ahead of the replica's (another time zone, a
/// clock behind) finished `today` and went on, and asking for `today` again would meet
/// the later day's records from id 0 on every reconnect until the replica's midnight.
pub fn first_needed_day(store: &Store, today: Date, history_days: i64) -> Date {
    let newest = store.days().ok().and_then(|days| days.last().copied());
    let mut day = today.add_days(history_days.min(0));
    while (day < today || newest.is_some_and(|n| n > day)) && store.is_finished(day) {
        day = day.succ();
    }
    day
}

/// The oldest day `retain_days` keeps: `-1` keeps yesterday and today, `-3` three days back.
pub fn oldest_kept(today: Date, retain_days: i64) -> Date {
    today.add_days(retain_days.min(-1))
}

/// Deletes the local day folders older than [`oldest_kept`], except `today` and the day
/// being synced (a replica far behind must not delete what it is copying). Returns the
/// days removed.
pub fn apply_retention(store: &mut Store, today: Date, retain_days: i64, syncing: Date) -> Result<Vec<Date>> {
    let keep_from = oldest_kept(today, retain_days);
    let mut removed = Vec::new();
    for day in store.days()? {
        if day >= keep_from {
            break; // days() is sorted, oldest first
        }
        if day == today || day == syncing {
            continue;
        }
        match store.remove_day(day) {
            Ok(()) => {
                tracing::info!(%day, retain_days, "replica retention removed a day folder");
                removed.push(day);
            }
            // The store refuses to delete the day its writer has open; it goes next time.
            Err(err) if err.kind() == ErrorKind::Conflict => {
                tracing::debug!(%day, error = %err, "replica retention skipped a day in use");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, NewRecord, StoreOptions};

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn resumes_at_the_first_unfinished_day_and_keeps_what_retention_says() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = StoreOptions { durability: Durability::Never, ..Default::default() };
        let mut store = Store::open(tmp.path(), opts).unwrap();
        let today = d("2026-11-22");
        for day in ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"] {
            store.append(d(day), &[NewRecord { time: 0, ty: 0, data: b"x" }]).unwrap();
            store.finish(d(day)).unwrap();
        }
        assert_eq!(first_needed_day(&store, today, -4), d("2026-11-21"));
        assert_eq!(first_needed_day(&store, today, -1), d("2026-11-21"));
        assert_eq!(first_needed_day(&store, today, 0), today);

        // The master's calendar is ahead: it finished our today and went on to the next.
        store.append(today, &[NewRecord { time: 0, ty: 0, data: b"x" }]).unwrap();
        store.finish(today).unwrap();
        assert_eq!(first_needed_day(&store, today, 0), today, "nothing later held yet");
        store.append(today.succ(), &[NewRecord { time: 0, ty: 0, data: b"x" }]).unwrap();
        assert_eq!(first_needed_day(&store, today, 0), today.succ());
        assert_eq!(first_needed_day(&store, today, -4), d("2026-11-21"), "still the first day not held whole");

        // -3 keeps 11-19 onwards; 11-17 is the day being synced in this scenario.
        let removed = apply_retention(&mut store, today, -3, d("2026-11-17")).unwrap();
        assert_eq!(removed, vec![d("2026-11-18")]);
        let kept = [d("2026-11-17"), d("2026-11-19"), d("2026-11-20"), today, today.succ()];
        assert_eq!(store.days().unwrap(), kept);
    }
}
