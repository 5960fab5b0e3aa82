//! Per file, the offset up to which the server has acknowledged its records, persisted
//! atomically (a temporary file, fsync, rename, fsync of the folder), so that a crash
//! leaves either the old checkpoints or the new ones, never a torn mix.
//!
//! The server's own table (what [`SeqSender::stored_seq`] answers) may be ahead of these
//! after a crash; a file resumes at the larger of the two. Checkpoints are what the agent
//! has when the server forgot a producer, and they keep what the server cannot know:
//! which path a file had, its fingerprint, its generation, how large it was last seen.
//!
//! [`SeqSender::stored_seq`]: modsynclog_core::sdk::sequenced::SeqSender::stored_seq

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::identity::{Fingerprint, Inode};

pub const FILE_NAME: &str = "checkpoints.json";

/// One file's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Where the file was last seen.
    pub path: PathBuf,
    pub input: String,
    pub fingerprint: Fingerprint,
    pub generation: u32,
    /// Offset after the last record the server acknowledged.
    pub acked: u64,
    /// The file's size when last looked at (what is known to be lost if it goes).
    pub size: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// The agent these belong to (a different `--agent-id` must not reuse them).
    pub agent: String,
    /// Inputs whose files present at their first start were skipped to their end
    /// (`start_at = "end"` applies once, not to files that appear later).
    #[serde(default)]
    pub started_inputs: Vec<String>,
    #[serde(with = "by_inode")]
    pub files: BTreeMap<Inode, Entry>,
}

impl Checkpoints {
    /// The checkpoints in `dir`, or none yet for `agent`.
    pub fn load(dir: &Path, agent: &str) -> std::io::Result<Checkpoints> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Checkpoints { agent: agent.to_string(), ..Checkpoints::default() });
            }
            Err(e) => return Err(e),
        };
        let cp: Checkpoints = serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        if cp.agent != agent {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} belongs to agent {:?}, not {agent:?}: give the same --agent-id, or another --state-dir",
                    path.display(),
                    cp.agent
                ),
            ));
        }
        Ok(cp)
    }

    /// Replaces the checkpoints in `dir` with these, atomically and durably.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(FILE_NAME))?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// JSON object keys are strings: the map goes as a list of `{dev, ino, ...entry}`.
mod by_inode {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Row {
        #[serde(flatten)]
        inode: Inode,
        #[serde(flatten)]
        entry: Entry,
    }

    pub fn serialize<S: Serializer>(map: &BTreeMap<Inode, Entry>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter().map(|(inode, entry)| Row { inode: *inode, entry: entry.clone() }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Inode, Entry>, D::Error> {
        let rows = Vec::<Row>::deserialize(d)?;
        Ok(rows.into_iter().map(|r| (r.inode, r.entry)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_and_loaded_whole_and_refused_to_another_agent() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpoints::load(dir.path(), "web-1").unwrap();
        assert!(cp.files.is_empty());
        let entry = Entry {
            path: "/var/log/app.log".into(),
            input: "app".into(),
            fingerprint: Fingerprint { len: 256, hash: 7 },
            generation: 2,
            acked: 4096,
            size: 5000,
        };
        cp.files.insert(Inode { dev: 1, ino: 42 }, entry.clone());
        cp.started_inputs.push("app".into());
        cp.save(dir.path()).unwrap();
        let back = Checkpoints::load(dir.path(), "web-1").unwrap();
        assert_eq!(back, cp);
        assert!(!dir.path().join("checkpoints.json.tmp").exists());
        let err = Checkpoints::load(dir.path(), "web-2").unwrap_err();
        assert!(err.to_string().contains("belongs to agent \"web-1\""), "{err}");
    }
}
