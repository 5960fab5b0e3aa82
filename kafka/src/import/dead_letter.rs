//! The dead-letter folder: messages an import could not store, with the reason.
//!
//! One file per partition, `<topic>.<partition>.jsonl`, one JSON object per line:
//!
//! ```json
//! {"topic":"logs","partition":0,"offset":41,"timestamp":1764000000000,
//!  "reason":"record of 5242880 bytes exceeds the limit of 4194304",
//!  "key":null,"payload":"<base64>","headers":{"msl-type":"<base64>"}}
//! ```
//!
//! A line is written and synced before the batch whose offsets cover it is queued for the
//! store, so a dead letter is never lost behind a stored offset. After a crash the same
//! messages come back from Kafka; a message whose offset is not above the file's last line
//! is not written again, so each dead letter is there once. A torn last line (a crash in
//! the middle of a write) is cut at open.
//!
//! Messages whose partition started its offsets over below the offset this store holds
//! for it (the topic was deleted and created again, or truncated) go to a file of their
//! own, `<topic>.<partition>.below-<offset>.jsonl`: their offsets are not above the main
//! file's last line, and they must not be taken for ones written before.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use modsynclog_core::{Error, ErrorKind, Result};
use rdkafka::message::{BorrowedMessage, Message};

/// `(topic, partition, below)`: `below` names the file of a partition's offsets started
/// over below that offset (see the module docs).
type FileKey = (String, i32, Option<i64>);

/// Dead-letter files of one import, opened as partitions send their first dead letter.
#[derive(Debug)]
pub(crate) struct DeadLetters {
    dir: PathBuf,
    /// Each open file and the offset of its last line.
    files: HashMap<FileKey, (File, Option<i64>)>,
    /// Dead letters written since start.
    pub(crate) written: u64,
}

impl DeadLetters {
    pub(crate) fn new(dir: PathBuf) -> DeadLetters {
        DeadLetters { dir, files: HashMap::new(), written: 0 }
    }

    /// Writes `message` with `reason` and syncs it, unless an earlier run wrote it already;
    /// into the file of offsets started over below `below`, when given.
    pub(crate) fn write(&mut self, message: &BorrowedMessage<'_>, reason: &str, below: Option<i64>) -> Result<()> {
        let key = (message.topic().to_string(), message.partition(), below);
        if !self.files.contains_key(&key) {
            let opened = open(&self.dir, &file_name(&key.0, key.1, below))?;
            self.files.insert(key.clone(), opened);
        }
        let (file, last) = self.files.get_mut(&key).expect("just inserted");
        if last.is_some_and(|last| message.offset() <= last) {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&entry(message, reason)).expect("JSON of strings and numbers");
        line.push(b'\n');
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("dead-letter file of {}/{}: {e}", key.0, key.1));
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        *last = Some(message.offset());
        self.written += 1;
        Ok(())
    }
}

fn entry(m: &BorrowedMessage<'_>, reason: &str) -> serde_json::Value {
    let b64 = |b: Option<&[u8]>| b.map(|b| STANDARD.encode(b));
    let headers: serde_json::Map<String, serde_json::Value> = crate::headers::pairs(m.headers())
        .into_iter()
        .map(|(key, value)| (String::from_utf8_lossy(key).into_owned(), b64(value).into()))
        .collect();
    serde_json::json!({
        "topic": m.topic(),
        "partition": m.partition(),
        "offset": m.offset(),
        "timestamp": m.timestamp().to_millis(),
        "reason": reason,
        "key": b64(m.key()),
        "payload": b64(m.payload()),
        "headers": headers,
    })
}

/// The name of a partition's dead-letter file (see the module docs).
fn file_name(topic: &str, partition: i32, below: Option<i64>) -> String {
    match below {
        None => format!("{topic}.{partition}.jsonl"),
        Some(offset) => format!("{topic}.{partition}.below-{offset}.jsonl"),
    }
}

/// The file `name`, positioned at its end after cutting a torn last line, and the offset
/// of its last whole line.
fn open(dir: &Path, name: &str) -> Result<(File, Option<i64>)> {
    let path = dir.join(name);
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("dead-letter file {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    let mut text = Vec::new();
    file.read_to_end(&mut text).map_err(io)?;
    let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if whole < text.len() {
        tracing::warn!(file = %path.display(), bytes = text.len() - whole, "cutting a torn dead letter");
        file.set_len(whole as u64).map_err(io)?;
        file.sync_data().map_err(io)?;
    }
    file.seek(SeekFrom::Start(whole as u64)).map_err(io)?;
    let last = text[..whole]
        .split(|b| *b == b'\n')
        .rfind(|line| !line.is_empty())
        .and_then(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .and_then(|v| v["offset"].as_i64());
    Ok((file, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_is_cut_and_the_last_offset_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.2.jsonl");
        std::fs::write(&path, b"{\"offset\":7}\n{\"offset\":9}\n{\"offs").unwrap();
        let (_, last) = open(dir.path(), &file_name("logs", 2, None)).unwrap();
        assert_eq!(last, Some(9));
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"offset\":7}\n{\"offset\":9}\n");
        let (_, last) = open(dir.path(), &file_name("other", 0, Some(40))).unwrap();
        assert_eq!(last, None);
        assert!(dir.path().join("other.0.below-40.jsonl").exists());
        let (_, last) = open(dir.path(), &file_name("other", 0, None)).unwrap();
        assert_eq!(last, None);
    }
}
