//! What the agent collects: `[[input]]` sections, from the agent's TOML file or from an
//! etcd key holding the same text.
//!
//! ```toml
//! [[input]]
//! name = "app"                         # names the input in logs, metrics, checkpoints
//! paths = ["/var/log/app/*.log"]       # globs (`*`, `?`, `[...]`, `**`)
//! exclude = ["*.gz", "*.[0-9]"]        # globs matched against the file name
//! type = 1201                          # record type [default: 1201, JSON log]
//! start_at = "beginning"               # or "end": files present at the input's first start
//! max_record_bytes = "1MiB"            # longer records keep their first bytes, counted
//! multiline = { pattern = '^[ \t]', negate = false }   # a line matching continues the record
//! rate = { records = 10000, bytes = "8MiB" }           # per second, this input alone
//! ```

use std::time::Duration;

use regex::bytes::Regex;
use serde::Deserialize;

use modsynclog_core::bytesize::parse_bytes;

use crate::lines::Multiline;

/// Records longer than this are cut by default (the server's default record limit is 4 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;
/// The JSON log type of the original SDK.
pub const DEFAULT_TYPE: i16 = 1201;

/// Where a file seen for the first time is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    Beginning,
    /// Only for files present when the input first starts; files that appear later (a
    /// rotation's new file) are always read from the beginning.
    End,
}

/// Records and bytes per second an input may ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub records: Option<u64>,
    pub bytes: Option<u64>,
}

/// One input.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub paths: Vec<String>,
    pub exclude: Vec<glob::Pattern>,
    pub record_type: i16,
    pub start_at: StartAt,
    pub max_record_bytes: usize,
    pub multiline: Option<Multiline>,
    pub rate: Option<Rate>,
}

impl PartialEq for Input {
    /// Same settings (an etcd update that changes nothing keeps the input running).
    fn eq(&self, o: &Input) -> bool {
        let ml = |m: &Option<Multiline>| m.as_ref().map(|m| (m.pattern.as_str().to_string(), m.negate));
        self.name == o.name
            && self.paths == o.paths
            && self.exclude == o.exclude
            && self.record_type == o.record_type
            && self.start_at == o.start_at
            && self.max_record_bytes == o.max_record_bytes
            && ml(&self.multiline) == ml(&o.multiline)
            && self.rate == o.rate
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSection {
    name: Option<String>,
    paths: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(rename = "type")]
    record_type: Option<i16>,
    #[serde(default)]
    start_at: StartAt,
    max_record_bytes: Option<Size>,
    multiline: Option<MultilineSection>,
    rate: Option<RateSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MultilineSection {
    pattern: String,
    #[serde(default)]
    negate: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSection {
    records: Option<u64>,
    bytes: Option<Size>,
}

/// `1048576` or `"1MiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Size {
    Number(u64),
    Text(String),
}

impl Size {
    fn bytes(&self) -> Result<u64, String> {
        match self {
            Size::Number(n) => Ok(*n),
            Size::Text(t) => parse_bytes(t).map(|b| b as u64),
        }
    }
}

#[derive(Debug, Deserialize)]
struct InputsFile {
    #[serde(default)]
    input: Vec<InputSection>,
}

/// The `[[input]]` sections of a TOML text (other top-level keys are left to the caller).
pub fn parse_inputs(text: &str) -> Result<Vec<Input>, String> {
    let file: InputsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut inputs: Vec<Input> = Vec::new();
    for (i, s) in file.input.into_iter().enumerate() {
        let what = |e: String| format!("input #{}: {e}", i + 1);
        if s.paths.is_empty() {
            return Err(what("needs at least one path".into()));
        }
        for p in &s.paths {
            glob::Pattern::new(p).map_err(|e| what(format!("path {p:?}: {e}")))?;
        }
        let exclude = s
            .exclude
            .iter()
            .map(|p| glob::Pattern::new(p).map_err(|e| what(format!("exclude {p:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        let multiline = match s.multiline {
            Some(m) => Some(Multiline {
                pattern: Regex::new(&m.pattern).map_err(|e| what(format!("multiline pattern: {e}")))?,
                negate: m.negate,
            }),
            None => None,
        };
        let rate = match s.rate {
            Some(r) => Some(Rate { records: r.records, bytes: r.bytes.map(|b| b.bytes()).transpose().map_err(what)? }),
            None => None,
        };
        if rate.is_some_and(|r| r.records == Some(0) || r.bytes == Some(0)) {
            return Err(what("a rate of 0 would ship nothing; leave it out for no limit".into()));
        }
        let max_record_bytes = match s.max_record_bytes {
            Some(b) => b.bytes().map_err(what)? as usize,
            None => DEFAULT_MAX_RECORD_BYTES,
        };
        if max_record_bytes == 0 {
            return Err(what("max_record_bytes must be at least 1".into()));
        }
        let name = s.name.unwrap_or_else(|| s.paths.join("+"));
        if inputs.iter().any(|o| o.name == name) {
            return Err(what(format!("two inputs are named {name:?}: give each a distinct `name`")));
        }
        inputs.push(Input {
            name,
            paths: s.paths,
            exclude,
            record_type: s.record_type.unwrap_or(DEFAULT_TYPE),
            start_at: s.start_at,
            max_record_bytes,
            multiline,
            rate,
        });
    }
    Ok(inputs)
}

/// The inputs of the agent's own configuration, then those of the config centre. A name
/// in both is refused: which of the two settings should win is not for the agent to guess.
pub fn combine(local: &[Input], centre: &[Input]) -> Result<Vec<Input>, String> {
    if let Some(twice) = centre.iter().find(|c| local.iter().any(|l| l.name == c.name)) {
        return Err(format!(
            "the config centre's input {:?} has the name of an input of the config file or --path",
            twice.name
        ));
    }
    Ok(local.iter().chain(centre).cloned().collect())
}

/// How long a file may stay quiet before a multi-line record waiting for more lines is
/// shipped as it is.
pub const MULTILINE_FLUSH: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_with_defaults_and_mistakes_named() {
        let inputs = parse_inputs(
            "[[input]]\npaths = [\"/var/log/a/*.log\"]\n\
             [[input]]\nname = \"b\"\npaths = [\"/b/*.log\"]\nexclude = [\"*.gz\"]\ntype = 7\nstart_at = \"end\"\n\
             max_record_bytes = \"64KiB\"\nmultiline = { pattern = '^[ \\t]' }\nrate = { records = 10000, bytes = \"8MiB\" }\n",
        )
        .unwrap();
        let (a, b) = (&inputs[0], &inputs[1]);
        assert_eq!((a.name.as_str(), a.record_type, a.start_at), ("/var/log/a/*.log", 1201, StartAt::Beginning));
        assert_eq!(a.max_record_bytes, 1 << 20);
        assert_eq!((b.record_type, b.start_at, b.max_record_bytes), (7, StartAt::End, 64 << 10));
        assert_eq!(b.rate, Some(Rate { records: Some(10_000), bytes: Some(8 << 20) }));
        assert!(b.exclude[0].matches("x.gz") && !b.multiline.as_ref().unwrap().negate);

        let bad = |t: &str| parse_inputs(t).unwrap_err();
        assert!(bad("[[input]]\npaths = []\n").contains("at least one path"));
        assert!(bad("[[input]]\npaths = [\"a\"]\nrate = { records = 0 }\n").contains("rate of 0"));
        assert!(bad("[[input]]\npaths = [\"a\"]\nmultiline = { pattern = '(' }\n").contains("multiline pattern"));
        assert!(bad("[[input]]\npaths = [\"a\"]\n[[input]]\npaths = [\"a\"]\n").contains("distinct"));
        assert!(bad("[[input]]\npaths = [\"a\"]\ntypo = 1\n").contains("unknown field"));
    }

    #[test]
    fn centre_inputs_follow_local_ones_and_may_not_reuse_their_names() {
        let local = parse_inputs("[[input]]\nname = \"a\"\npaths = [\"/a\"]\n").unwrap();
        let centre = parse_inputs("[[input]]\nname = \"b\"\npaths = [\"/b\"]\n").unwrap();
        let names: Vec<String> = combine(&local, &centre).unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(combine(&local, &local).unwrap_err().contains("\"a\""));
    }
}
