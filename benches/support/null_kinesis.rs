//! A PutRecords endpoint for benchmarks: accepts every entry at once and hands the size of
//! each entry's data and partition key to a callback (to count them). Plain HTTP/1.1 on
//! 127.0.0.1, keep-alive; JSON or CBOR requests (answered in JSON, as a service may).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

/// One request entry: bytes of data and of partition key.
#[derive(Debug, Clone, Copy)]
pub struct EntrySize {
    pub data: usize,
    pub key: usize,
}

/// Starts the endpoint; returns its port.
pub fn start(on_entries: impl Fn(&[EntrySize]) + Send + Sync + 'static) -> u16 {
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

fn serve(socket: std::net::TcpStream, on_entries: &dyn Fn(&[EntrySize])) {
    // Without NODELAY, Nagle plus delayed ACKs would add ~40 ms to every response.
    socket.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut writer = socket;
    let mut line = String::new();
    loop {
        let (mut content_length, mut cbor) = (0usize, false);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap();
                }
                cbor |= name.eq_ignore_ascii_case("content-type") && value.contains("cbor");
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        let entries = if cbor {
            cbor_entries(&body)
        } else {
            json_entries(&body)
        };
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

fn json_entries(body: &[u8]) -> Vec<EntrySize> {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap();
    let entries = request["Records"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|entry| {
            let b64 = entry["Data"].as_str().unwrap();
            let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
            EntrySize {
                data: b64.len() / 4 * 3 - padding,
                key: entry["PartitionKey"].as_str().unwrap().len(),
            }
        })
        .collect()
}

/// Reads a CBOR PutRecords body as edgeship writes it: a map whose first member is "Records",
/// an array of maps of text keys to byte or text strings, all with definite lengths.
fn cbor_entries(body: &[u8]) -> Vec<EntrySize> {
    let mut cursor = Cursor { body, at: 0 };
    cursor.head(); // the top-level map
    assert_eq!(cursor.string(), b"Records", "Records comes first");
    let count = cursor.head();
    (0..count)
        .map(|_| {
            let mut entry = EntrySize { data: 0, key: 0 };
            for _ in 0..cursor.head() {
                let name = cursor.string().to_vec();
                let value = cursor.string().len();
                match name.as_slice() {
                    b"Data" => entry.data = value,
                    b"PartitionKey" => entry.key = value,
                    _ => {}
                }
            }
            entry
        })
        .collect()
}

struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The argument of the next head (a length or count).
    fn head(&mut self) -> usize {
        let info = self.body[self.at] & 0x1f;
        self.at += 1;
        let width = match info {
            0..=23 => return usize::from(info),
            24 => 1,
            25 => 2,
            26 => 4,
            _ => 8,
        };
        let bytes = &self.body[self.at..self.at + width];
        self.at += width;
        bytes.iter().fold(0, |n, &b| n << 8 | usize::from(b))
    }

    fn string(&mut self) -> &'a [u8] {
        let len = self.head();
        let value = &self.body[self.at..self.at + len];
        self.at += len;
        value
    }
}
