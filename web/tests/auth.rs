//! With a token, `/metrics` and `/api/*` need it (header or query); the console's static
//! files do not (they hold no data).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use modsynclog_web::{Endpoint, Role};

fn status(addr: SocketAddr, path: &str, auth: Option<&str>) -> u16 {
    let mut conn = TcpStream::connect(addr).unwrap();
    let header = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_data_and_not_the_page() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = Endpoint {
        role: Role::Agent,
        store: None,
        metrics: None,
        registry: modsynclog_core::metrics::registry(|_| {}),
        config: serde_json::json!({}),
        token: Some("s3cret".into()),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let served = tokio::spawn(modsynclog_web::serve(listener, endpoint, stopped));
    let checks = tokio::task::spawn_blocking(move || {
        assert_eq!(status(addr, "/metrics", None), 401);
        assert_eq!(status(addr, "/metrics", Some("Bearer wrong")), 401);
        assert_eq!(status(addr, "/api/status", None), 401);
        assert_eq!(status(addr, "/api/status?access_token=wrong", None), 401);
        assert_eq!(status(addr, "/metrics", Some("Bearer s3cret")), 200);
        assert_eq!(status(addr, "/api/status?access_token=s3cret", None), 200);
        // The console itself: no data, no token.
        assert_eq!(status(addr, "/", None), 200);
        assert_eq!(status(addr, "/app.js", None), 200);
        // An unknown path is behind the token too (it tells nothing either way).
        assert_eq!(status(addr, "/api/nothing", Some("Bearer s3cret")), 404);
    });
    checks.await.unwrap();
    stop.send(true).unwrap();
    served.await.unwrap().unwrap();
}
