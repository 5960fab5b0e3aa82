//! What the server's writer task asks the store before it appends a batch inline (its
//! plain-append path): only with the `server` feature.

use super::Store;
use super::format::{self, data_file_index};
use super::writer::DayWriter;
use crate::date::Date;

impl Store {
    /// Whether `records` more can go into `date` as plain writes to files already open:
    /// the day's writer is open and not finished, no file waits for a sync, and the batch
    /// does not start a new data file (which creates a file and syncs the folder).
    pub(crate) fn fits_open_data_file(&self, date: Date, records: usize) -> bool {
        match &self.current {
            Some(w) if w.date == date && !w.finished && self.repair.is_none() => {
                w.count() % format::RECORDS_PER_DATA_FILE + records as u64 <= format::RECORDS_PER_DATA_FILE
                    && w.has_data_file_for(w.count())
            }
            _ => false,
        }
    }
}

impl DayWriter {
    /// Whether the data file that record `id` goes to is open already.
    pub(crate) fn has_data_file_for(&self, id: u64) -> bool {
        matches!(&self.data, Some((i, _)) if *i == data_file_index(id))
    }
}
