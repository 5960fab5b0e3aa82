//! The process-wide SDK: init once, commit, flush, close.

mod support;

use std::time::Duration;

use modsynclog_core::ErrorKind;
use modsynclog_core::clock::ManualClock;
use modsynclog_core::sdk::global;
use support::{NOV21_2359, TestServer, read_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_commit_flush_close() {
    assert_eq!(global::commit(1, "early").unwrap_err().kind(), ErrorKind::NotInitialized);
    assert_eq!(global::flush(None).unwrap_err().kind(), ErrorKind::NotInitialized);

    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOV21_2359);
    let mut srv = TestServer::start(tmp.path(), &clock).await;
    let addr = srv.addr.to_string();
    global::init(&addr).unwrap();
    global::init(&addr).unwrap();
    assert_eq!(global::init("127.0.0.1:1").unwrap_err().kind(), ErrorKind::AlreadyInitialized);

    tokio::task::spawn_blocking(|| {
        for i in 0..100 {
            global::commit(1201, format!("g{i}")).unwrap();
        }
        global::flush(Some(Duration::from_secs(10))).unwrap();
        global::close().unwrap();
        assert_eq!(global::commit(1, "late").unwrap_err().kind(), ErrorKind::Closed);
    })
    .await
    .unwrap();
    srv.stop().await;
    assert_eq!(read_all(tmp.path()).len(), 100);
}
