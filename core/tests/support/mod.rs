//! A test server on a temporary folder, port 0 and a manual clock, always shut down.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use modsynclog_core::clock::ManualClock;
use modsynclog_core::server::{RunningServer, ServerConfig, start};
use modsynclog_core::{Date, Durability, Reader, Record};

/// 2026-11-21 23:59:00 UTC.
pub const NOV21_2359: i64 = 1_795_305_540;

/// A running server; dropping it (even while a test panics) stops it.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: PathBuf,
    pub addr: SocketAddr,
}

pub fn config(dir: &Path, clock: &Arc<ManualClock>) -> ServerConfig {
    ServerConfig {
        data_dir: dir.to_path_buf(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        clock: clock.clone(),
        durability: Durability::Never,
        ..ServerConfig::default()
    }
}

impl TestServer {
    pub async fn start(dir: &Path, clock: &Arc<ManualClock>) -> TestServer {
        Self::start_with(config(dir, clock)).await
    }

    pub async fn start_with(config: ServerConfig) -> TestServer {
        let dir = config.data_dir.clone();
        let server = start(config).await.expect("server starts");
        let addr = server.grpc_addr();
        TestServer { server: Some(server), dir, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }
}

/// Every record in the store folder, in order.
pub fn read_all(dir: &Path) -> Vec<Record> {
    Reader::open(dir).unwrap().map(|r| r.unwrap()).collect()
}

pub fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

pub fn day_dir(dir: &Path, d: &str) -> PathBuf {
    dir.join(date(d).folder_name())
}
