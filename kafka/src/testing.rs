//! A real broker for tests: `scripts/kafka.sh start` in a temporary folder, stopped on
//! drop (also when the test fails). Not part of the bridge's API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord};
use rdkafka::{Offset, TopicPartitionList};

pub struct Broker {
    dir: tempfile::TempDir,
    bootstrap: String,
    /// For [`held`](Broker::held), made once: tests and the bench poll it every few ms.
    offsets: OnceLock<BaseConsumer>,
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
        Broker { dir, bootstrap, offsets: OnceLock::new() }
    }

    /// Stops the broker (its topics and messages stay in its folder).
    pub fn stop(&self) {
        let out = Command::new("bash").arg(script()).arg("stop").arg(self.dir.path()).output().expect("bash");
        assert!(out.status.success(), "scripts/kafka.sh stop failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts the stopped broker again on the same ports, with its topics and messages, and
    /// waits until it answers.
    pub fn restart(&self) {
        let port = self.bootstrap.rsplit(':').next().expect("host:port");
        let props = std::fs::read_to_string(self.dir.path().join("server.properties")).expect("server.properties");
        let controller = props
            .split(['\n', ','])
            .find_map(|l| l.trim().strip_prefix("CONTROLLER://127.0.0.1:"))
            .expect("a controller listener");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(self.dir.path())
            .env("MSL_KAFKA_PORT", port)
            .env("MSL_KAFKA_CONTROLLER_PORT", controller.trim())
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "scripts/kafka.sh start (again) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
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

    /// Messages in `topic` (the sum of its `partitions` partitions' high watermarks).
    pub fn held(&self, topic: &str, partitions: i32) -> i64 {
        let c = self.offsets.get_or_init(|| self.consumer());
        (0..partitions).map(|p| c.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks").1).sum()
    }

    /// The first `n` messages of `topic`, from every partition, each partition's in offset
    /// order; panics when they do not arrive within 60 s, or when more than `n` are there.
    pub fn messages(&self, topic: &str, partitions: i32, n: usize) -> Vec<OwnedMessage> {
        let c = self.consumer();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning).expect("an assignment");
        }
        c.assign(&tpl).expect("an assignment");
        let mut got = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.len() < n {
            assert!(Instant::now() < deadline, "read {} of {n} messages of {topic} in 60 s", got.len());
            if let Some(m) = c.poll(Duration::from_millis(500)) {
                got.push(m.expect("a message").detach());
            }
        }
        // Nothing more than expected: a doubled record would show up here.
        if let Some(Ok(m)) = c.poll(Duration::from_secs(1)) {
            panic!("more than {n} messages in {topic}: partition {} offset {}", m.partition(), m.offset());
        }
        got
    }

    /// A producer to this broker (acks from all replicas, idempotent).
    pub fn producer(&self) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .expect("a producer")
    }

    /// The offsets `group` committed for `topic`'s `partitions` partitions (`-1`: none).
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let c = self.member_of(group);
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let got = c.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
        (0..partitions)
            .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            })
            .collect()
    }

    /// Commits `offsets` (one per partition, from 0) for `group`, as an operator resetting
    /// the group would; the group must have no active member.
    pub fn commit(&self, group: &str, topic: &str, offsets: &[i64]) {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets.iter().enumerate() {
            tpl.add_partition_offset(topic, p as i32, Offset::Offset(*o)).expect("an offset");
        }
        self.member_of(group).commit(&tpl, rdkafka::consumer::CommitMode::Sync).expect("offsets committed");
    }

    /// Deletes `topic` and waits until the broker no longer lists it (so that
    /// [`topic`](Broker::topic) creates it anew).
    pub async fn delete_topic(&self, topic: &str) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &self.bootstrap).create().expect("an admin client");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin.delete_topics(&[topic], &options).await.expect("a delete request");
        for r in results {
            r.unwrap_or_else(|(name, e)| panic!("deleting topic {name}: {e}"));
        }
        let c = self.consumer();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let metadata = c.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
            if metadata.topics().iter().all(|t| t.name() != topic || t.error().is_some()) {
                return;
            }
            assert!(Instant::now() < deadline, "topic {topic} still listed 60 s after its deletion");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn member_of(&self, group: &str) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer")
    }

    fn consumer(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "modsynclog-tests")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer")
    }
}

/// Sends `record` with `producer`, serving the producer while its queue is full; panics
/// on any other error.
pub fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(producer: &BaseProducer, mut record: BaseRecord<'_, K, P>) {
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(Duration::from_millis(10));
                record = back;
            }
            Err((e, _)) => panic!("producing a test message: {e}"),
        }
    }
    producer.poll(Duration::ZERO);
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg(self.dir.path()).output();
    }
}
