//! A PutRecords endpoint for benchmarks: accepts every entry at once and hands the request's
//! entries to a callback (to count them). Plain HTTP/1.1 on 127.0.0.1, keep-alive.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

/// Starts the endpoint; returns its port.
pub fn start(on_entries: impl Fn(&[serde_json::Value]) + Send + Sync + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let on_entries = Arc::new(on_entries);
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            let on_entries = on_entries.clone();
            std::thread::spawn(move || serve(socket, &*on_entries));
        }
    });
    port
}

fn serve(socket: std::net::TcpStream, on_entries: &dyn Fn(&[serde_json::Value])) {
    // Without NODELAY, Nagle plus delayed ACKs would add ~40 ms to every response.
    socket.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut writer = socket;
    let mut line = String::new();
    loop {
        let mut content_length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let entries = request["Records"].as_array().cloned().unwrap_or_default();
        let records =
            vec![r#"{"SequenceNumber":"1","ShardId":"shardId-000000000000"}"#; entries.len()]
                .join(",");
        let response = format!("{{\"FailedRecordCount\":0,\"Records\":[{records}]}}");
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{response}",
            response.len()
        );
        writer.write_all(reply.as_bytes()).unwrap();
        on_entries(&entries);
    }
}
