//! Runs `modsynclog-agent`: the agent's loop, the config centre's watch, the metrics
//! endpoint, and the signals (SIGTERM/SIGINT stop, SIGHUP reloads the config file).
//!
//! The agent's inputs are those of the config file and `--path`, then those of the config
//! centre's key; a change of either (SIGHUP, an etcd update) hands the loop the new list.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use modsynclog_agent::config::{Input, combine};
use modsynclog_agent::figures::Figures;
use modsynclog_agent::run::Ended;
use tokio::sync::watch;

use crate::agent_cli::{Settled, load_inputs};
use crate::agent_metrics::AgentMetrics;

/// How long the start waits for the config centre's first answer before it runs with the
/// config file's inputs alone (the centre's join when etcd answers).
const CENTRE_FIRST_WAIT: Duration = Duration::from_secs(10);

pub async fn run(settled: Settled) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let Settled { config, inputs: mut local, centre, metrics, config_file, cli_input, .. } = settled;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("install SIGHUP handler")?;
    let figures: Arc<Figures> = Arc::default();
    if let Some((addr, token)) = metrics {
        let shown = serde_json::json!({
            "server": config.server,
            "agent_id": config.agent_id,
            "state_dir": config.state_dir,
            "max_in_flight_bytes": config.max_in_flight_bytes,
            "inputs": local.iter().map(|i| i.name.clone()).collect::<Vec<_>>(),
            "etcd": centre.as_ref().map(|c| c.endpoint.clone()),
        });
        let endpoint = crate::http::agent_endpoint(Arc::new(AgentMetrics(figures.clone())), shown, token);
        crate::http::start(addr, endpoint, stop_rx.clone()).await?;
    }

    // The sender stays here when there is no centre, so `changed()` below just waits.
    let (centre_tx, mut centre_rx) = watch::channel(None);
    let has_centre = centre.is_some();
    if let Some(centre) = centre {
        let task = tokio::spawn(modsynclog_agent::centre::follow(centre, centre_tx.clone(), stop_rx.clone()));
        let answered = tokio::select! {
            first = tokio::time::timeout(CENTRE_FIRST_WAIT, centre_rx.wait_for(Option::is_some)) => first.is_ok(),
            _ = term.recv() => return stopped_before_start(&stop_tx),
            _ = int.recv() => return stopped_before_start(&stop_tx),
        };
        if !answered {
            if task.is_finished() {
                return Err(anyhow!(task.await.context("config centre task")?.unwrap_err()));
            }
            tracing::warn!(
                "the config centre did not answer within {CENTRE_FIRST_WAIT:?}: starting with the config file's \
                 inputs; the centre's join when it answers"
            );
        }
    }
    let combined = |local: &[Input], centre: &Option<Vec<Input>>| {
        combine(local, centre.as_deref().unwrap_or_default()).inspect_err(
            |e| tracing::error!(error = %e, "the inputs are not valid together; keeping the inputs as they are"),
        )
    };
    let first = combined(&local, &centre_rx.borrow_and_update()).unwrap_or_else(|_| local.clone());
    let (inputs_tx, inputs_rx) = watch::channel(first);

    tracing::info!(server = %config.server, agent_id = %config.agent_id, state_dir = %config.state_dir.display(), "starting modsynclog-agent");
    let mut agent = tokio::spawn(modsynclog_agent::run::run(config, inputs_rx, stop_rx, figures));
    loop {
        tokio::select! {
            ended = &mut agent => {
                let _ = stop_tx.send(true);
                return match ended.context("agent task")? {
                    Ok(Ended::Drained) => { tracing::info!("everything shipped"); Ok(()) }
                    Ok(Ended::Stopped) => { tracing::info!("stopped"); Ok(()) }
                    Err(e) => Err(anyhow!(e)),
                };
            }
            _ = term.recv() => { let _ = stop_tx.send(true); }
            _ = int.recv() => { let _ = stop_tx.send(true); }
            _ = hup.recv() => match reload(config_file.as_deref(), cli_input.as_deref(), has_centre) {
                Ok(new) => {
                    local = new;
                    if let Ok(all) = combined(&local, &centre_rx.borrow()) { let _ = inputs_tx.send(all); }
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "SIGHUP: the config file is not valid; keeping the inputs as they are"),
            },
            Ok(()) = centre_rx.changed() => {
                if let Ok(all) = combined(&local, &centre_rx.borrow_and_update()) { let _ = inputs_tx.send(all); }
            }
        }
    }
}

/// Asked to stop while waiting for the config centre: nothing was read or sent yet.
fn stopped_before_start(stop: &watch::Sender<bool>) -> Result<()> {
    let _ = stop.send(true);
    tracing::info!("stopped");
    Ok(())
}

fn reload(file: Option<&std::path::Path>, cli: Option<&str>, centre: bool) -> Result<Vec<Input>> {
    let text = match file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?,
        None => String::new(),
    };
    load_inputs(&text, cli, centre)
}
