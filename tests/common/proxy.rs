//! A small fault-injecting HTTP proxy between the agent and kinesalite, because the emulators
//! never throttle or fail part of a request on their own.
//!
//! For PutRecords it can: fail chosen entries with `ProvisionedThroughputExceededException`
//! (those entries are removed from the forwarded request, so the stream never stores them and a
//! correct agent must resend exactly them); reject a whole request with a throttling 400 or an
//! `InternalFailure` 500 without forwarding it. It counts every entry it receives, so a test can
//! prove that only failed entries were resent.

use md5::Digest;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    /// Fail every n-th PutRecords entry (0: never).
    pub fail_entry_every: u64,
    /// Answer every n-th PutRecords request with a whole-request throttling error (0: never).
    pub throttle_request_every: u64,
    /// Answer every n-th PutRecords request with HTTP 500 InternalFailure (0: never).
    pub error_500_every: u64,
    /// Answer every PutRecords request with AccessDeniedException.
    pub deny_all: bool,
    /// Answer every CBOR request with a `SerializationException`, as an endpoint that speaks
    /// only JSON would.
    pub reject_cbor: bool,
    /// Answer the first n ListShards requests with HTTP 500 InternalFailure.
    pub fail_list_shards_first: u64,
    /// Emulate per-shard write limits on a 2-shard stream (hash space split in half, as
    /// kinesalite creates it): entries beyond these budgets fail with
    /// ProvisionedThroughputExceededException (0: no limit).
    pub shard_records_per_sec: u64,
    pub shard_bytes_per_sec: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyStats {
    pub requests: u64,
    /// Entries in all PutRecords requests that reached the proxy.
    pub entries_received: u64,
    /// Entries answered with a per-entry failure.
    pub entries_failed: u64,
    /// Whole requests rejected, and the entries they held.
    pub requests_rejected: u64,
    pub entries_in_rejected: u64,
    pub cbor_rejected: u64,
}

#[derive(Default)]
struct State {
    plan: FaultPlan,
    stats: ProxyStats,
    entry_counter: u64,
    request_counter: u64,
    list_shards_counter: u64,
    shards: [Option<Bucket>; 2],
    /// When each admitted entry reached the proxy, by shard.
    admitted_at: [Vec<std::time::Instant>; 2],
}

/// A shard's budget: one second's worth, refilled continuously.
struct Bucket {
    records: f64,
    bytes: f64,
    at: std::time::Instant,
}

impl State {
    /// Whether the shard of `entry` can take it now (and takes the budget if so).
    fn shard_admits(&mut self, entry: &Value) -> bool {
        let (rate_records, rate_bytes) = (
            self.plan.shard_records_per_sec as f64,
            self.plan.shard_bytes_per_sec as f64,
        );
        if rate_records == 0.0 && rate_bytes == 0.0 {
            return true;
        }
        let key = entry["PartitionKey"].as_str().unwrap_or_default();
        let hash: u128 = match entry["ExplicitHashKey"].as_str() {
            Some(ehk) => ehk.parse().unwrap(),
            None => u128::from_be_bytes(md5::Md5::digest(key.as_bytes()).into()),
        };
        let data = entry["Data"].as_str().unwrap_or_default();
        let size = (data.len() / 4 * 3 + key.len()) as f64;
        let now = std::time::Instant::now();
        let shard = (hash >> 127) as usize;
        let slot = &mut self.shards[shard];
        let bucket = slot.get_or_insert(Bucket {
            records: rate_records,
            bytes: rate_bytes,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.records = (bucket.records + elapsed * rate_records).min(rate_records);
        bucket.bytes = (bucket.bytes + elapsed * rate_bytes).min(rate_bytes);
        bucket.at = now;
        if bucket.records >= 1.0 && bucket.bytes >= size {
            bucket.records -= 1.0;
            bucket.bytes -= size;
            self.admitted_at[shard].push(now);
            true
        } else {
            false
        }
    }
}

pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    pub fn start(upstream_port: u16, plan: FaultPlan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            plan,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(client, upstream_port, &state));
            }
        });
        FaultProxy { url, state }
    }

    pub fn stats(&self) -> ProxyStats {
        self.state.lock().unwrap().stats
    }

    /// Per shard, the most entries admitted within any `window`, by the time they reached the
    /// proxy (only with per-shard limits in the plan). The proxy's clock, not the emulator's
    /// arrival stamps: kinesalite stamps a busy moment's requests late, bunching them.
    pub fn busiest(&self, window: std::time::Duration) -> [usize; 2] {
        let state = self.state.lock().unwrap();
        state.admitted_at.each_ref().map(|times| {
            let mut start = 0;
            (0..times.len())
                .map(|end| {
                    while times[end].duration_since(times[start]) >= window {
                        start += 1;
                    }
                    end + 1 - start
                })
                .max()
                .unwrap_or(0)
        })
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        self.state.lock().unwrap().plan = plan;
    }
}

struct Message {
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn write(&self, out: &mut impl Write, connection: &str) -> std::io::Result<()> {
        let mut text = format!("{}\r\n", self.head);
        for (k, v) in &self.headers {
            if !["content-length", "connection", "transfer-encoding"]
                .contains(&k.to_ascii_lowercase().as_str())
            {
                text.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        text.push_str(&format!(
            "content-length: {}\r\nconnection: {connection}\r\n\r\n",
            self.body.len()
        ));
        out.write_all(text.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Message> {
    let mut head = String::new();
    if reader.read_line(&mut head).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut message = Message {
        head: head.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    if let Some(length) = message
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body).ok()?;
    } else if message
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            message.body.extend_from_slice(&chunk[..size]);
        }
    } else if message.head.starts_with("HTTP/") {
        reader.read_to_end(&mut message.body).ok()?;
    }
    Some(message)
}

fn serve(client: TcpStream, upstream_port: u16, state: &Mutex<State>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    while let Some(request) = read_message(&mut reader) {
        let is_put_records = request
            .header("x-amz-target")
            .is_some_and(|t| t.ends_with(".PutRecords"));
        let cbor = request
            .header("content-type")
            .is_some_and(|t| t.contains("cbor"));
        let is_list_shards = request
            .header("x-amz-target")
            .is_some_and(|t| t.ends_with(".ListShards"));
        let response = if is_list_shards && fails_list_shards(state) {
            Some(error_response(
                "500 Internal Server Error",
                "InternalFailure",
                "Internal service failure.",
            ))
        } else if cbor && state.lock().unwrap().plan.reject_cbor {
            state.lock().unwrap().stats.cbor_rejected += 1;
            Some(error_response(
                "400 Bad Request",
                "SerializationException",
                "Unsupported content type application/x-amz-cbor-1.1",
            ))
        } else if is_put_records {
            put_records(request, upstream_port, state)
        } else {
            forward(&request, upstream_port)
        };
        let Some(response) = response else { return };
        if response.write(&mut writer, "keep-alive").is_err() {
            return;
        }
    }
}

fn fails_list_shards(state: &Mutex<State>) -> bool {
    let mut s = state.lock().unwrap();
    s.list_shards_counter += 1;
    s.list_shards_counter <= s.plan.fail_list_shards_first
}

fn forward(request: &Message, upstream_port: u16) -> Option<Message> {
    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port)).ok()?;
    request.write(&mut upstream, "close").ok()?;
    read_message(&mut BufReader::new(upstream))
}

fn error_response(status: &str, code: &str, message: &str) -> Message {
    let body = json!({"__type": code, "message": message})
        .to_string()
        .into_bytes();
    Message {
        head: format!("HTTP/1.1 {status}"),
        headers: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
        body,
    }
}

fn put_records(mut request: Message, upstream_port: u16, state: &Mutex<State>) -> Option<Message> {
    let mut body: Value = serde_json::from_slice(&request.body).ok()?;
    let entries = body["Records"].as_array()?.clone();
    // Decide every fault under the lock, then talk to the emulator without it.
    let failed: Vec<bool> = {
        let mut s = state.lock().unwrap();
        s.stats.requests += 1;
        s.stats.entries_received += entries.len() as u64;
        s.request_counter += 1;
        let (n, plan) = (s.request_counter, s.plan);
        let reject = if plan.deny_all {
            Some(error_response(
                "400 Bad Request",
                "AccessDeniedException",
                "User is not authorized to perform: kinesis:PutRecords",
            ))
        } else if plan.throttle_request_every > 0 && n.is_multiple_of(plan.throttle_request_every) {
            Some(error_response(
                "400 Bad Request",
                "ProvisionedThroughputExceededException",
                "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000.",
            ))
        } else if plan.error_500_every > 0 && n.is_multiple_of(plan.error_500_every) {
            Some(error_response(
                "500 Internal Server Error",
                "InternalFailure",
                "Internal service failure.",
            ))
        } else {
            None
        };
        if let Some(response) = reject {
            s.stats.requests_rejected += 1;
            s.stats.entries_in_rejected += entries.len() as u64;
            return Some(response);
        }
        entries
            .iter()
            .map(|e| {
                s.entry_counter += 1;
                let fail = (plan.fail_entry_every > 0
                    && s.entry_counter.is_multiple_of(plan.fail_entry_every))
                    || !s.shard_admits(e);
                s.stats.entries_failed += fail as u64;
                fail
            })
            .collect()
    };
    let kept: Vec<Value> = entries
        .iter()
        .zip(&failed)
        .filter(|(_, f)| !**f)
        .map(|(e, _)| e.clone())
        .collect();
    let mut upstream_results = Vec::new();
    let mut response = if kept.is_empty() {
        Message {
            head: "HTTP/1.1 200 OK".into(),
            headers: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
            body: Vec::new(),
        }
    } else {
        body["Records"] = Value::Array(kept);
        request.body = serde_json::to_vec(&body).unwrap();
        let response = forward(&request, upstream_port)?;
        if !response.head.contains(" 200") {
            return Some(response);
        }
        let parsed: Value = serde_json::from_slice(&response.body).ok()?;
        upstream_results = parsed["Records"].as_array()?.clone();
        response
    };
    let mut upstream_results = upstream_results.into_iter();
    let records: Vec<Value> = failed
        .iter()
        .map(|&f| {
            if f {
                json!({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."})
            } else {
                upstream_results.next().unwrap_or(Value::Null)
            }
        })
        .collect();
    let failed_count = failed.iter().filter(|f| **f).count();
    response.body = json!({"FailedRecordCount": failed_count, "Records": records})
        .to_string()
        .into_bytes();
    Some(response)
}
