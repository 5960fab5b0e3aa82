//! Starting the agent's files: the checkpointed ones opened where they are now (renamed
//! away by a rotation, truncated while the agent was down), resumed at the larger of their
//! checkpoint and what the server says it stored, in the order they were written.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use modsynclog_core::sdk::sequenced::SeqSender;
use modsynclog_core::{Error, ErrorKind, Result};

use crate::checkpoint::Entry;
use crate::discover::{discover, find_in_folder};
use crate::files::Files;
use crate::identity::{Inode, producer_id};
use crate::tracked::Tracked;

impl Files {
    /// Opens the checkpointed files where they are now (resuming at the larger of the
    /// checkpoint and what the server stored), and every other file the globs match.
    /// Waits for the server's answers: until it answers, nothing can be read safely.
    pub async fn start(&mut self, sender: &SeqSender) -> Result<()> {
        // Looked for first: a file at a glob's path now may be renamed away while the
        // server is asked (it may be starting); it is then opened where it went.
        let found = discover(&self.inputs);
        let entries: Vec<(Inode, Entry)> = std::mem::take(&mut self.checkpoints.files).into_iter().collect();
        let mut stored = Vec::with_capacity(entries.len());
        for (inode, entry) in &entries {
            let producer = producer_id(&self.agent, *inode, entry.fingerprint, entry.generation);
            stored.push(stored_seq(sender, &producer).await?);
        }
        let mut resumed: Vec<(Inode, Tracked)> = Vec::new();
        for ((inode, entry), stored) in entries.into_iter().zip(stored) {
            let Some(input) = self.input(&entry.input).cloned() else {
                // Its input is gone from the configuration: kept for when it comes back.
                self.checkpoints.files.insert(inode, entry);
                continue;
            };
            // Where the file is now: at a glob's path, or renamed in its folder.
            let here = match found.get(&inode) {
                Some(f) => Some((f.path.clone(), false)),
                None => find_in_folder(&entry.path, inode).map(|p| (p, true)),
            };
            let offset = entry.acked.max(stored.unwrap_or(0));
            let open = |p: &Path| Tracked::open(p, &input, offset, Some(entry.fingerprint), entry.generation);
            let opened = here.map(|(path, gone)| {
                open_where_it_is(&path, inode, open).map(|(t, moved)| (t, gone || moved, path == entry.path))
            });
            // Its first bytes, read through the open file (its path may have moved on). Other
            // ones at the same path: truncated (copy-truncate) and written again while the
            // agent was down, its rest is in the copy (see `Tracked`); anywhere else: another
            // file that took the inode of one that went.
            let (mut t, gone) = match opened {
                Some(Ok((mut t, gone, same_path))) => match t.starts_with(entry.fingerprint) {
                    Ok(true) => (t, gone),
                    Ok(false) if same_path && !gone => {
                        t.rewritten = true;
                        (t, gone)
                    }
                    Ok(false) => {
                        self.went(&entry);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(path = %t.path.display(), error = %e, "cannot read a checkpointed file");
                        continue;
                    }
                },
                Some(Err(e)) => {
                    tracing::warn!(path = %entry.path.display(), error = %e, "cannot open a checkpointed file");
                    continue;
                }
                None => {
                    self.went(&entry);
                    continue;
                }
            };
            if offset > entry.acked {
                tracing::info!(path = %t.path.display(), checkpoint = entry.acked, offset, "the server stored more than the checkpoint says");
            }
            if gone {
                // Known by the path it had: the file now there comes after it.
                t.path = entry.path.clone();
            }
            t.gone = gone;
            resumed.push((inode, t));
        }
        self.resume_in_rotation_order(resumed);
        self.open_new(&found);
        self.dirty = true;
        Ok(())
    }

    /// A checkpointed file that is not there any more: what it held past its checkpoint is
    /// lost.
    fn went(&mut self, entry: &Entry) {
        let lost = entry.size.saturating_sub(entry.acked);
        if lost > 0 {
            tracing::warn!(path = %entry.path.display(), lost_bytes = lost, "a file went before it was shipped");
            self.figures.lost_bytes.fetch_add(lost, Relaxed);
        }
        self.dirty = true;
    }

    /// Follows the resumed files in the order they were written: of files known by one
    /// path (renamed away by rotations, and the file there now), each is read only once
    /// the one before is read to its end, as before the restart. The file at the path now
    /// comes last; of those renamed away, the older was last written before the newer, so
    /// their modification times give the order.
    fn resume_in_rotation_order(&mut self, mut resumed: Vec<(Inode, Tracked)>) {
        let modified = |t: &Tracked| t.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        resumed.sort_by_key(|(i, t)| (!t.gone, modified(t), i.ino));
        let mut last_at: HashMap<std::path::PathBuf, Inode> = HashMap::new();
        for (inode, mut t) in resumed {
            if let Some(before) = last_at.insert(t.path.clone(), inode) {
                t.after = Some(before);
            }
            self.add(inode, t);
        }
    }
}

/// What the server stored for `producer`; retried while the server cannot be reached.
async fn stored_seq(sender: &SeqSender, producer: &str) -> Result<Option<u64>> {
    let mut delay = Duration::from_millis(100);
    loop {
        match sender.stored_seq(producer).await {
            Ok(seq) => return Ok(seq),
            Err(e) if e.is_auth() || e.kind() == ErrorKind::InvalidArgument => return Err(e),
            Err(e) if e.kind() == ErrorKind::Protocol => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("the server cannot say what it stored ({e}): the agent needs a modsynclog server"),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot ask the server where to resume; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Opens the file `inode` found at `path`, or where it went in the same folder if it was
/// renamed away (a rotation) since it was found there. Returns it and whether it moved.
fn open_where_it_is(
    path: &Path,
    inode: Inode,
    open: impl Fn(&Path) -> std::io::Result<Tracked>,
) -> std::io::Result<(Tracked, bool)> {
    let t = open(path)?;
    if t.inode == inode {
        return Ok((t, false));
    }
    let moved = find_in_folder(path, inode)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "renamed away and not found"))?;
    let t = open(&moved)?;
    if t.inode != inode {
        return Err(std::io::Error::other("replaced while it was opened"));
    }
    Ok((t, true))
}
