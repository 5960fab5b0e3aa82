//! A real broker for tests: `scripts/kafka.sh start` in a temporary folder, stopped on
//! drop (also when the test fails). Not part of the bridge's API.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Broker {
    dir: tempfile::TempDir,
    bootstrap: String,
}

/// `scripts/kafka.sh` of this repository.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka.sh")
}

/// Whether `MSL_SKIP_KAFKA` asks to skip the tests that need a broker (saying so).
pub fn skipped(test: &str) -> bool {
    let skip = std::env::var_os("MSL_SKIP_KAFKA").is_some();
    if skip {
        eprintln!("MSL_SKIP_KAFKA is set: {test} is skipped");
    }
    skip
}

impl Broker {
    /// Starts a broker (fetching the jars the first time) and waits until it answers.
    /// Panics with the script's output when it cannot.
    pub fn start() -> Broker {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let out = Command::new("bash").arg(script()).arg("start").arg(dir.path()).output().expect("bash");
        assert!(out.status.success(), "scripts/kafka.sh start failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let bootstrap = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Broker { dir, bootstrap }
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Creates `topic` with `partitions` partitions and waits until each has a leader.
    pub fn topic(&self, topic: &str, partitions: i32) {
        let out = Command::new("bash")
            .arg(script())
            .arg("topic")
            .arg(self.dir.path())
            .args([topic, &partitions.to_string()])
            .output()
            .expect("bash");
        assert!(out.status.success(), "creating topic {topic} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg(self.dir.path()).output();
    }
}
