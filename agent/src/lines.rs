//! Bytes of a file into records: lines, joined by a multi-line rule, cut at a maximum size.
//!
//! [`Lines`] is fed the file's bytes in chunks as they are read and hands out complete
//! records, each with the file offset just after it (the seq a batch ending there is sent
//! with). A line is complete at its `\n`; the `\n` (and a `\r` before it) is not part of
//! the record. With a [`Multiline`] rule a line that continues the previous one is joined
//! to it with `\n`; a record is then complete only when the next record's first line has
//! arrived, or on [`Lines::flush_pending`] (the file went quiet). A record longer than the
//! maximum keeps its first `max` bytes and the rest is dropped (counted in
//! [`Lines::truncated`]); bytes are never buffered past the maximum.

use bytes::Bytes;
use regex::bytes::Regex;

/// Which lines continue the record before them.
#[derive(Debug, Clone)]
pub struct Multiline {
    pub pattern: Regex,
    /// `false`: a line matching `pattern` continues the previous record (a stack trace's
    /// `\tat ...` lines); `true`: a line *not* matching it does (pattern = the first line
    /// of each record, like a timestamp).
    pub negate: bool,
}

impl Multiline {
    fn continues(&self, line: &[u8]) -> bool {
        self.pattern.is_match(line) != self.negate
    }
}

/// A record and the file offset right after its last byte (its `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub data: Bytes,
    pub end: u64,
}

#[derive(Debug)]
pub struct Lines {
    max: usize,
    multiline: Option<Multiline>,
    /// The line being read (not yet at its `\n`), at most `max` bytes.
    line: Vec<u8>,
    /// Bytes of the current line dropped past `max`.
    line_cut: bool,
    /// A multi-line record waiting for its continuation lines, and where it ends.
    pending: Option<(Vec<u8>, u64, bool)>,
    /// File offset of the next byte fed.
    offset: u64,
    /// Records cut to the maximum since start.
    pub truncated: u64,
}

impl Lines {
    /// Records of a file read from `offset` (a record boundary).
    pub fn new(offset: u64, max: usize, multiline: Option<Multiline>) -> Lines {
        Lines { max: max.max(1), multiline, line: Vec::new(), line_cut: false, pending: None, offset, truncated: 0 }
    }

    /// The offset after the last byte fed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether a line was begun and not ended by its `\n`.
    pub fn has_partial_line(&self) -> bool {
        !self.line.is_empty() || self.line_cut
    }

    /// Whether bytes were fed that are not in a record handed out yet.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.line_cut || self.pending.is_some()
    }

    /// Feeds the next bytes of the file; complete records are pushed onto `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Cut>) {
        while !chunk.is_empty() {
            let (part, rest, complete) = match memchr(chunk) {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &chunk[chunk.len()..], false),
            };
            let room = self.max.saturating_sub(self.line.len());
            if part.len() > room {
                self.line.extend_from_slice(&part[..room]);
                self.line_cut = true;
            } else {
                self.line.extend_from_slice(part);
            }
            self.offset += (part.len() + usize::from(complete)) as u64;
            chunk = rest;
            if complete {
                if self.line.last() == Some(&b'\r') && !self.line_cut {
                    self.line.pop();
                }
                let line = std::mem::take(&mut self.line);
                let cut = std::mem::take(&mut self.line_cut);
                self.line_done(line, cut, out);
            }
        }
    }

    fn line_done(&mut self, line: Vec<u8>, cut: bool, out: &mut Vec<Cut>) {
        let Some(rule) = &self.multiline else {
            return self.emit(line, self.offset, cut, out);
        };
        match self.pending.take() {
            Some((mut record, _, record_cut)) if rule.continues(&line) => {
                let room = self.max.saturating_sub(record.len());
                let joined = 1 + line.len();
                if joined > room {
                    record.push(b'\n');
                    record.extend_from_slice(&line);
                    record.truncate(self.max);
                    self.pending = Some((record, self.offset, true));
                } else {
                    record.push(b'\n');
                    record.extend_from_slice(&line);
                    self.pending = Some((record, self.offset, record_cut || cut));
                }
            }
            previous => {
                if let Some((record, end, record_cut)) = previous {
                    self.emit(record, end, record_cut, out);
                }
                self.pending = Some((line, self.offset, cut));
            }
        }
    }

    /// Ends the line being read where the file ends, as if its `\n` followed but without
    /// counting one: the record's end is the file's size, so a resume (or a truncation
    /// check) later sees the real offset.
    pub fn end_line(&mut self, out: &mut Vec<Cut>) {
        if !self.has_partial_line() {
            return;
        }
        if self.line.last() == Some(&b'\r') && !self.line_cut {
            self.line.pop();
        }
        let line = std::mem::take(&mut self.line);
        let cut = std::mem::take(&mut self.line_cut);
        self.line_done(line, cut, out);
    }

    /// Hands out a multi-line record still waiting for continuation lines (the file has
    /// been quiet long enough, or it is being closed).
    pub fn flush_pending(&mut self, out: &mut Vec<Cut>) {
        if let Some((record, end, cut)) = self.pending.take() {
            self.emit(record, end, cut, out);
        }
    }

    fn emit(&mut self, record: Vec<u8>, end: u64, cut: bool, out: &mut Vec<Cut>) {
        if cut {
            self.truncated += 1;
        }
        out.push(Cut { data: Bytes::from(record), end });
    }
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(lines: &mut Lines, chunks: &[&[u8]]) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for c in chunks {
            lines.feed(c, &mut out);
        }
        out.into_iter().map(|c| (String::from_utf8(c.data.to_vec()).unwrap(), c.end)).collect()
    }

    #[test]
    fn lines_across_chunks_with_their_end_offsets() {
        let mut l = Lines::new(100, 1024, None);
        let got = all(&mut l, &[b"one\ntw", b"o\r\nthr", b"ee"]);
        assert_eq!(got, [("one".into(), 104), ("two".into(), 109)]);
        assert!(l.has_partial());
        assert_eq!(l.offset(), 114);
    }

    #[test]
    fn a_last_line_without_its_newline_ends_at_the_files_end() {
        let mut l = Lines::new(0, 1024, None);
        let mut got = all(&mut l, &[b"one\ntwo"]);
        let mut out = Vec::new();
        l.end_line(&mut out);
        got.extend(out.into_iter().map(|c| (String::from_utf8(c.data.to_vec()).unwrap(), c.end)));
        assert_eq!(got, [("one".into(), 4), ("two".into(), 7)], "7 is the file's size, not one past it");
        assert_eq!(l.offset(), 7);
        assert!(!l.has_partial());
    }

    #[test]
    fn a_long_line_is_cut_and_counted_without_buffering_it() {
        let mut l = Lines::new(0, 4, None);
        let got = all(&mut l, &[b"abcdefgh", b"ij\nxy\n"]);
        assert_eq!(got, [("abcd".into(), 11), ("xy".into(), 14)]);
        assert_eq!(l.truncated, 1);
        assert!(l.line.capacity() < 64);
    }

    #[test]
    fn a_java_stack_trace_is_one_record() {
        let rule = Multiline { pattern: Regex::new(r"^[ \t]+(at|\.\.\.) |^Caused by:").unwrap(), negate: false };
        let mut l = Lines::new(0, 1 << 20, Some(rule));
        let text = b"2026-11-30 INFO start\n\
            2026-11-30 ERROR boom\n\
            java.lang.IllegalStateException: bad\n\
            \tat com.x.A.run(A.java:10)\n\
            \tat com.x.B.main(B.java:5)\n\
            Caused by: java.io.IOException: disk\n\
            \t... 2 more\n\
            2026-11-30 INFO next\n";
        let got = all(&mut l, &[text]);
        // The exception's first line matches nothing: it starts the trace's record.
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "2026-11-30 INFO start");
        assert_eq!(got[1].0, "2026-11-30 ERROR boom");
        let trace = &got[2].0;
        assert!(trace.starts_with("java.lang.IllegalStateException: bad\n\tat com.x.A.run"), "{trace}");
        assert!(trace.ends_with("Caused by: java.io.IOException: disk\n\t... 2 more"), "{trace}");
        assert_eq!(trace.lines().count(), 5);
        let mut out = Vec::new();
        l.flush_pending(&mut out);
        assert_eq!((out[0].data.as_ref(), out[0].end), (&b"2026-11-30 INFO next"[..], text.len() as u64));
    }

    #[test]
    fn negated_rule_joins_everything_up_to_the_next_timestamp() {
        let rule = Multiline { pattern: Regex::new(r"^\d{4}-\d{2}-\d{2} ").unwrap(), negate: true };
        let mut l = Lines::new(0, 1 << 20, Some(rule));
        let text = b"2026-11-30 ERROR boom\njava.lang.Exception: x\n\tat A.b(A.java:1)\n2026-11-30 INFO ok\n";
        let got = all(&mut l, &[text]);
        assert_eq!(got, [("2026-11-30 ERROR boom\njava.lang.Exception: x\n\tat A.b(A.java:1)".into(), 63)]);
        let mut out = Vec::new();
        l.flush_pending(&mut out);
        assert_eq!((out[0].data.as_ref(), out[0].end), (&b"2026-11-30 INFO ok"[..], text.len() as u64));
    }
}
