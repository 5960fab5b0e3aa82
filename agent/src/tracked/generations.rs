//! A truncated file's generations: the rest of the one being read, from its copy; the
//! ones that went by before the agent got back to the file, from the copies made since;
//! then the file itself from 0 (see the module docs of [`Tracked`](super::Tracked)).

use std::fs::File;
use std::io::{Seek, SeekFrom};

use crate::config::Input;
use crate::copies;
use crate::identity::{FINGERPRINT_LEN, Fingerprint, Inode};
use crate::lines::Lines;

use super::{COPIES_READ, Tracked};

impl Tracked {
    /// The file shrank below what was read: finish from its copy, then start again.
    pub(super) fn truncated_to(&mut self, size: u64) -> std::io::Result<()> {
        let from = self.lines.offset();
        tracing::info!(path = %self.path.display(), from, size, "file truncated (copy-truncate rotation?)");
        let copy = self.fingerprint.and_then(|fp| copies::find_copy(&self.path, self.inode, fp, from));
        let opened = match &copy {
            Some(c) => open_copy(c)?.map(|f| (f, c)),
            None => None,
        };
        match opened {
            Some((mut f, copy)) => {
                f.seek(SeekFrom::Start(from))?;
                tracing::info!(copy = %copy.path.display(), from, "reading the rest from the copy");
                self.reading(f, copy);
            }
            None => {
                let lost = self.size.saturating_sub(from);
                tracing::warn!(path = %self.path.display(), lost_bytes = lost, "no copy of the truncated file found: what it held past {from} is not shipped");
                self.lost += lost;
                self.copied_at = None;
                self.end_partial_line();
                self.restarting = true;
            }
        }
        Ok(())
    }

    /// Once every batch of the truncated file is acknowledged: ship it again from 0 under
    /// its next generation.
    pub fn restart_if_settled(&mut self, input: &Input) -> std::io::Result<bool> {
        if !self.restarting || self.in_flight > 0 || self.has_ready() {
            return Ok(false);
        }
        self.generation += 1;
        self.lines = Lines::new(0, input.max_record_bytes, input.multiline.clone());
        (self.acked, self.size) = (0, 0);
        (self.restarting, self.rewritten, self.eof) = (false, false, false);
        self.fingerprint = None;
        if !self.switch_to_later_copy()? {
            // The file itself, once it has bytes (`take_fingerprint` looks for copies again).
            (&*self.file).seek(SeekFrom::Start(0))?;
        }
        Ok(true)
    }

    /// When a copy was made after the one last read from (`copied_at`), this generation
    /// (nothing of it shipped yet) is read from it instead: it held what came first.
    pub(super) fn switch_to_later_copy(&mut self) -> std::io::Result<bool> {
        let Some(at) = self.copied_at else { return Ok(false) };
        let skip = |i: Inode| i == self.inode || self.copies_read.contains(&i);
        for copy in copies::later_copies(&self.path, skip, at) {
            // Gone meanwhile (deleted, or compressed into another file): the next one.
            let Some(f) = open_copy(&copy)? else { continue };
            self.fingerprint = Some(Fingerprint::read(&f, FINGERPRINT_LEN)?);
            tracing::info!(path = %self.path.display(), copy = %copy.path.display(), generation = self.generation, "truncated again before the agent got back to it: shipping the copy of what it held");
            self.reading(f, &copy);
            return Ok(true);
        }
        Ok(false)
    }

    /// This generation is read from `copy` from now on.
    fn reading(&mut self, f: File, copy: &copies::Copy) {
        (self.copy, self.copied_at, self.eof) = (Some(f), Some(copy.modified), false);
        if self.copies_read.len() == COPIES_READ {
            self.copies_read.pop_front();
        }
        self.copies_read.push_back(copy.inode);
    }
}

/// Opens a copy; `None` if it went since it was found.
fn open_copy(copy: &copies::Copy) -> std::io::Result<Option<File>> {
    match File::open(&copy.path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
