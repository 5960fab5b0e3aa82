//! An export's figures, as the metrics endpoint and `modsynclog-client status` show them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use modsynclog_core::Date;
use modsynclog_core::metrics::MetricSource;
use modsynclog_core::metrics::collect::{Encoder, counters, gauges};
use modsynclog_core::store::{Head, Signal};

/// Updated by the exporter, read by scrapes.
#[derive(Debug, Default)]
pub struct ExportFigures {
    pub(crate) topic: String,
    /// Records the broker acknowledged since start.
    pub sent: AtomicU64,
    /// The last record handed to the producer: `(date, id)`.
    last: Mutex<Option<(Date, u64)>>,
    /// The server's head, for the lag (`None` outside a server).
    head: Option<Arc<Signal>>,
}

impl ExportFigures {
    pub fn new(topic: &str, head: Option<Arc<Signal>>) -> ExportFigures {
        ExportFigures { topic: topic.to_string(), head, ..ExportFigures::default() }
    }

    pub(crate) fn exported(&self, date: Date, id: u64) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((date, id));
    }

    /// The last record handed to the producer.
    pub fn last(&self) -> Option<(Date, u64)> {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records of the store not yet exported, when the export is on the head's day or on
    /// the day before it still open for late records (or the store is empty); `None` while
    /// it catches up across days.
    pub fn lag(&self, head: &Head) -> Option<u64> {
        match (self.last(), head.date) {
            (_, None) => Some(0),
            (None, Some(_)) => Some(head.count),
            (Some((date, id)), Some(day)) if date == day => Some(head.count.saturating_sub(id + 1)),
            (Some((date, id)), Some(_)) if head.late.is_some_and(|(late, _)| late == date) => {
                let late = head.late.map_or(0, |(_, count)| count);
                Some(late.saturating_sub(id + 1) + head.count)
            }
            (Some((date, _)), Some(day)) if date > day => Some(0),
            _ => None,
        }
    }
}

/// Every export's figures, one metric family each (labelled by topic).
#[derive(Debug, Default)]
pub struct ExportMetrics(pub Vec<Arc<ExportFigures>>);

impl MetricSource for ExportMetrics {
    fn encode(&self, mut e: Encoder) -> std::fmt::Result {
        let topic = |f: &ExportFigures| [("topic", f.topic.clone())];
        let sent: Vec<_> = self.0.iter().map(|f| (topic(f), f.sent.load(Ordering::Relaxed))).collect();
        let help = "Records a Kafka export had acknowledged by the broker since start";
        counters(&mut e, "kafka_export_records", help, &sent)?;
        let last: Vec<_> = self
            .0
            .iter()
            .filter_map(|f| f.last().map(|(date, id)| ([("topic", f.topic.clone()), ("date", date.to_string())], id)))
            .collect();
        gauges(&mut e, "kafka_export_last_id", "Id of the last record exported, within its day", &last)?;
        let lag: Vec<_> = self
            .0
            .iter()
            .filter_map(|f| f.head.as_ref().and_then(|s| f.lag(&s.head())).map(|lag| (topic(f), lag)))
            .collect();
        gauges(&mut e, "kafka_export_lag_records", "Records of the store's head day not yet exported", &lag)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_on_the_head_day() {
        let d = |s| Date::parse(s).unwrap();
        let f = ExportFigures::new("t", None);
        let head = Head { date: Some(d("2026-11-29")), count: 10, ..Head::default() };
        assert_eq!(f.lag(&head), Some(10));
        f.exported(d("2026-11-29"), 6);
        assert_eq!(f.lag(&head), Some(3));
        f.exported(d("2026-11-28"), 6);
        assert_eq!(f.lag(&head), None);
        // The day before, still open for late records: its rest and the head day's records.
        let head = Head { late: Some((d("2026-11-28"), 20)), ..head };
        assert_eq!(f.lag(&head), Some(13 + 10));
        assert_eq!(f.lag(&Head::default()), Some(0));
    }
}
