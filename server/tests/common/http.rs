//! A tiny HTTP/1.1 client for the tests of the HTTP endpoint: one request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `GET path` on `127.0.0.1:port`: the status code and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "chunked answer to {path}");
    (status, body.to_string())
}

/// `GET path`, which must answer 200 with JSON.
pub fn json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = get(port, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// An open server-sent event stream.
pub struct Events(BufReader<TcpStream>);

impl Events {
    pub fn open(port: u16, path: &str) -> Events {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "GET {path}: {line}");
        Events(reader)
    }

    /// The next event's name and data (chunk-size lines and comments skipped).
    pub fn next(&mut self) -> (String, String) {
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            let mut line = String::new();
            assert!(self.0.read_line(&mut line).unwrap() > 0, "the event stream ended");
            let line = line.trim_end();
            if let Some(e) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                data = d.to_string();
            } else if line.is_empty() && !event.is_empty() {
                return (event, data);
            }
        }
    }
}
