//! `/api/records`: a page of one day's records from an id, optionally filtered.
//!
//! What one request may cost is bounded: it scans at most [`SCAN_BUDGET`] records and
//! [`SCAN_DEADLINE`] of time, returns at most [`MAX_PAGE_BYTES`] of payload (each payload
//! shown up to [`MAX_SHOWN`] bytes), and [`MAX_SCANS`] requests scan at once (more get
//! 503). The answer's `next` says where to go on.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine as _;
use modsynclog_core::store::day;
use modsynclog_core::{Date, Error, ErrorKind, Next, Record};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::api::{bad_query, blocking, failed};
use crate::filter::Filter;

/// Records a page holds at most, and by default.
pub const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;
/// Records one request looks at, at most.
pub const SCAN_BUDGET: u64 = 5_000_000;
/// Time one request scans, at most.
pub const SCAN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);
/// Payload bytes of one page, at most (a page ends early rather than pass it).
pub const MAX_PAGE_BYTES: usize = 4 << 20;
/// Payload bytes shown of one record; the rest is cut (`truncated`, `size`).
pub const MAX_SHOWN: usize = 64 << 10;
/// Requests scanning at once (the machine's cores belong to the writer first).
pub const MAX_SCANS: usize = 2;

#[derive(Debug, Deserialize)]
pub(crate) struct RecordsQuery {
    date: Option<String>,
    from: Option<u64>,
    limit: Option<usize>,
    r#type: Option<i16>,
    q: Option<String>,
    re: Option<String>,
}

/// A record as the API shows it: the payload (its first [`MAX_SHOWN`] bytes) as text
/// when it is UTF-8, else base64.
pub(crate) fn record_json(r: &Record, with_date: bool) -> Value {
    let shown = &r.data[..r.data.len().min(MAX_SHOWN)];
    // A cut in the middle of a character is still text up to it.
    let text = match std::str::from_utf8(shown) {
        Ok(t) => Some(t),
        Err(e) if shown.len() < r.data.len() && e.error_len().is_none() => {
            std::str::from_utf8(&shown[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let (encoding, data) = match text {
        Some(t) => ("utf8", t.to_string()),
        None => ("base64", base64::engine::general_purpose::STANDARD.encode(shown)),
    };
    let mut v = json!({"id": r.id, "time": r.time, "type": r.ty, "encoding": encoding, "data": data});
    if shown.len() < r.data.len() {
        v["truncated"] = json!(true);
        v["size"] = json!(r.data.len());
    }
    if with_date {
        v["date"] = json!(r.date.to_string());
    }
    v
}

/// One page: the matches, where to go on (`None`: the day has nothing past the page),
/// how many records were looked at.
pub(crate) struct Page {
    pub records: Vec<Record>,
    pub next: Option<u64>,
    pub scanned: u64,
}

/// Reads `date` from `from`: up to `limit` records that pass `filter`, looking at
/// `budget` records at most. `count` is the day's record count.
pub(crate) fn scan(
    reader: modsynclog_core::Reader,
    date: Date,
    from: u64,
    count: u64,
    limit: usize,
    budget: u64,
    filter: &Filter,
) -> modsynclog_core::Result<Page> {
    let mut page = Page { records: Vec::new(), next: None, scanned: 0 };
    if from >= count {
        return Ok(page);
    }
    let deadline = Instant::now() + SCAN_DEADLINE;
    let mut bytes = 0;
    let mut reader = reader.from(date, from).follow(false);
    while let Next::Record(r) = reader.next_record(None)? {
        if r.date != date {
            break;
        }
        page.scanned += 1;
        let id = r.id;
        if filter.matches(&r) {
            bytes += r.data.len().min(MAX_SHOWN);
            page.records.push(r);
        }
        // The clock is read every 64Ki records: a deadline costs nothing per record.
        let late = page.scanned.is_multiple_of(65_536) && Instant::now() > deadline;
        if page.records.len() >= limit || page.scanned >= budget || bytes >= MAX_PAGE_BYTES || late {
            page.next = (id + 1 < count).then_some(id + 1);
            break;
        }
    }
    Ok(page)
}

pub(crate) async fn records(
    State(state): State<Shared>,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Result<Json<Value>, Response> {
    let Query(query) = query.map_err(bad_query)?;
    let Some(store) = state.store.clone() else {
        return Err(failed(Error::new(ErrorKind::NotFound, "this process serves no store")));
    };
    let filter = Filter::new(query.r#type, query.q.as_deref(), query.re.as_deref()).map_err(failed)?;
    let date = match &query.date {
        Some(d) => Some(Date::parse(d).map_err(failed)?),
        None => None,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let from = query.from.unwrap_or(0);
    let Ok(slot) = state.scans.clone().try_acquire_owned() else {
        let e = Error::new(ErrorKind::Unavailable, format!("{MAX_SCANS} searches already running; try again"));
        return Err(failed(e));
    };
    let (date, count, page) = blocking(move || {
        let _slot = slot;
        let vfs = store.vfs.as_ref();
        let date = match date {
            Some(d) => d,
            None => match day::list_days(vfs, &store.root)?.last() {
                Some(d) => *d,
                None => return Ok(None),
            },
        };
        if !day::day_exists(vfs, &store.root, date) {
            return Err(Error::new(ErrorKind::NotFound, format!("no day {date} in the store")));
        }
        let count = day::record_count(vfs, &store.root, date)?;
        let page = scan((store.readers)()?, date, from, count, limit, SCAN_BUDGET, &filter)?;
        Ok(Some((date, count, page)))
    })
    .await?
    .map_or((None, 0, Page { records: Vec::new(), next: None, scanned: 0 }), |(d, c, p)| (Some(d), c, p));
    let records: Vec<Value> = page.records.iter().map(|r| record_json(r, false)).collect();
    Ok(Json(json!({
        "date": date.map(|d| d.to_string()),
        "records": records,
        "next": page.next,
        "scanned": page.scanned,
        "day_records": count,
    })))
}
