//! The Kafka imports and exports a server runs beside its listeners (see
//! [`crate::kafka_config`]).
//!
//! Imports feed the server's writer; exports read the server's own store through
//! [`RunningServer::readers`] (only what the writer published, woken by every append). An
//! export that fails (a delivery refused for good) is started again after a pause, so a
//! broker that comes back is used again without a restart; imports ride out a broker's
//! absence inside librdkafka.
//!
//! Stop order (SIGTERM): imports first (their last batches go into the store and their
//! offsets to the group), then exports (they flush what they read), then the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use modsynclog_core::metrics::{MetricSource, Source};
use modsynclog_core::server::RunningServer;
use modsynclog_kafka::export::{ExportConfig, ExportStopper, Exporter};
use modsynclog_kafka::export_figures::{ExportFigures, ExportMetrics};
use modsynclog_kafka::import::figures::ImportMetrics;
use modsynclog_kafka::import::{self, ImportHandle};

use crate::kafka_config::KafkaSettings;

/// Longest wait for the imports to stop gracefully.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Pause before an export that failed starts again.
const EXPORT_RETRY: Duration = Duration::from_secs(5);

/// The running imports and exports.
#[derive(Default)]
pub struct Bridge {
    imports: Vec<ImportHandle>,
    exports: Vec<RunningExport>,
}

struct RunningExport {
    figures: Arc<ExportFigures>,
    stopping: Arc<AtomicBool>,
    stopper: Arc<Mutex<Option<ExportStopper>>>,
    thread: JoinHandle<()>,
}

impl Bridge {
    /// Starts every import and export of `settings` on `server`.
    pub fn start(settings: &KafkaSettings, server: &RunningServer) -> Result<Bridge> {
        let mut bridge = Bridge::default();
        for config in &settings.imports {
            let name = config.name.clone();
            let handle = import::start(
                config.clone(),
                server.writer().from_source(Source::Kafka),
                tokio::runtime::Handle::current(),
            )
            .with_context(|| format!("kafka import {name}"))?;
            bridge.imports.push(handle);
        }
        for config in &settings.exports {
            bridge.exports.push(start_export(config.clone(), server)?);
        }
        Ok(bridge)
    }

    /// The figures of every import and export, for the metrics endpoint.
    pub fn metric_sources(&self) -> Vec<Arc<dyn MetricSource>> {
        let imports = ImportMetrics(self.imports.iter().map(|i| i.figures()).collect());
        let exports = ExportMetrics(self.exports.iter().map(|e| e.figures.clone()).collect());
        vec![Arc::new(imports), Arc::new(exports)]
    }

    /// Stops imports, then exports, each gracefully; waits for them, an import at most
    /// [`STOP_WAIT`] (librdkafka may wait long for a broker that is away to leave the
    /// group; the store's journal already holds where each partition is).
    pub fn stop(self) {
        for i in &self.imports {
            i.stop();
        }
        let deadline = Instant::now() + STOP_WAIT;
        for i in self.imports {
            while !i.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !i.is_finished() {
                tracing::warn!(?STOP_WAIT, "kafka import: not stopped in time (a broker away?); leaving it");
                continue;
            }
            if let Err(e) = i.join() {
                tracing::error!(error = %e, "kafka import ended with an error");
            }
        }
        for e in &self.exports {
            e.stopping.store(true, Ordering::SeqCst);
            if let Some(s) = e.stopper.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                s.stop();
            }
        }
        for e in self.exports {
            let _ = e.thread.join();
        }
    }
}

fn start_export(config: ExportConfig, server: &RunningServer) -> Result<RunningExport> {
    let readers = server.readers();
    let figures = Arc::new(ExportFigures::new(&config.topic, Some(server.signal())));
    // Checked now, so a bad section stops the start rather than a thread later.
    Exporter::with_reader(config.clone(), readers()).with_context(|| format!("kafka export {}", config.topic))?;
    let stopping = Arc::new(AtomicBool::new(false));
    let stopper: Arc<Mutex<Option<ExportStopper>>> = Arc::default();
    let (stop_flag, slot, shown) = (stopping.clone(), stopper.clone(), figures.clone());
    let thread = std::thread::Builder::new()
        .name(format!("kafka-export-{}", config.topic))
        .spawn(move || {
            while !stop_flag.load(Ordering::SeqCst) {
                let exporter = match Exporter::with_reader(config.clone(), readers()) {
                    Ok(e) => e.with_figures(figures.clone()),
                    Err(e) => return tracing::error!(topic = %config.topic, error = %e, "kafka export cannot start"),
                };
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(exporter.stopper());
                // A stop that came before the stopper was in place.
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                match exporter.run() {
                    Ok(stats) => tracing::info!(topic = %config.topic, sent = stats.sent, "kafka export stopped"),
                    Err(e) => {
                        tracing::error!(topic = %config.topic, error = %e, retry_in = ?EXPORT_RETRY, "kafka export failed");
                        let until = Instant::now() + EXPORT_RETRY;
                        while !stop_flag.load(Ordering::SeqCst) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            }
        })
        .context("start the kafka export thread")?;
    Ok(RunningExport { figures: shown, stopping, stopper, thread })
}
