//! The Kafka bridge: Kafka stays the distributed backbone, modsynclog the date-partitioned
//! store at either end of it.
//!
//! - [`export`]: a store folder into a topic, following it live; every message carries
//!   the record's date, id, type and time as headers ([`headers`]), and after a crash the
//!   exporter finds where it stopped from the last message of each partition
//!   ([`resume`]), so nothing is skipped and nothing is sent twice.
//!
//! - [`import`]: topics into the store through the server's writer, exactly once: each
//!   partition's offset is journaled with its records.
//!
//! librdkafka does the Kafka protocol (through the `rdkafka` crate, built from source).

pub mod export;
pub mod export_figures;
pub mod headers;
pub mod import;
pub mod quiet;
pub mod resume;
#[doc(hidden)]
pub mod testing;

use modsynclog_core::{Error, ErrorKind};

/// A Kafka client error as the core's [`Error`]: `Unavailable` (the broker may come back;
/// callers retry), with what librdkafka said.
/// Refuses a caller's librdkafka setting of one of the `reserved` keys (`what` names the
/// import or export in the error): the bridge sets them itself, and exactly once rests on them.
pub(crate) fn refuse_reserved(
    settings: &[(String, String)],
    reserved: &[&str],
    what: &str,
) -> modsynclog_core::Result<()> {
    match settings.iter().find(|(k, _)| reserved.contains(&k.as_str())) {
        Some((key, _)) => Err(Error::invalid(format!(
            "{what}: {key} is set by the bridge itself (exactly once rests on it) and cannot be changed"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn kafka_error(what: &str, err: rdkafka::error::KafkaError) -> Error {
    Error::new(ErrorKind::Unavailable, format!("kafka: {what}: {err}"))
}
