//! edgeship's own PutRecords / PutRecordBatch requests against the references: the body equals
//! what the AWS SDK's serializer writes for the same entries (property test: the SDK sends to a
//! capturing server here), and the SigV4 signature equals botocore's for the same request, time
//! and credentials.

mod common;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use edgeship::aggregate::Entry;
use edgeship::config::AwsSettings;
use edgeship::sink::wire::body::{Body, Shape};
use edgeship::sink::wire::{Service, Wire, encode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

/// Answers every request with a PutRecords success for `count` entries and hands back bodies.
fn capturing_server(count: usize) -> (String, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (bodies, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let _ = bodies.send(body);
                    let records =
                        vec![r#"{"SequenceNumber":"1","ShardId":"shardId-000000000000"}"#; count]
                            .join(",");
                    let answer = format!(r#"{{"FailedRecordCount":0,"Records":[{records}]}}"#);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
                        answer.len()
                    );
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.write_all(answer.as_bytes()).unwrap();
                }
            }
        }
    });
    (url, received)
}

fn sdk_body(entries: &[Entry], stream: &str) -> Vec<u8> {
    let (url, bodies) = capturing_server(entries.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url(url)
            .http_client(edgeship::sink::sdk_http::sdk_http_client(
                edgeship::sink::network::Network::direct(),
            ))
            .build();
        let records = entries.iter().map(|e| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .data(aws_sdk_kinesis::primitives::Blob::new(e.data.to_vec()))
                .partition_key(e.partition_key.as_str())
                .set_explicit_hash_key(e.explicit_hash_key().map(str::to_owned))
                .build()
                .unwrap()
        });
        aws_sdk_kinesis::Client::from_conf(config)
            .put_records()
            .stream_name(stream)
            .set_records(Some(records.collect()))
            .send()
            .await
            .unwrap();
    });
    bodies.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        proptest::collection::vec(any::<u8>(), 0..300),
        "[ -~\u{e9}\u{1F600}\"\\\\\n\t]{1,40}",
        proptest::option::of("[0-9]{1,39}"),
    )
        .prop_map(|(data, key, hash)| Entry::new(data, key).with_explicit_hash_key(hash))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn put_records_body_equals_the_sdk_serializer(
        entries in proptest::collection::vec(arb_entry(), 1..20),
        stream in "[a-zA-Z0-9_.-]{1,40}",
    ) {
        let refs: Vec<&Entry> = entries.iter().collect();
        let mut ours = Vec::new();
        encode::put_records(&stream, &refs, &mut ours);
        let theirs = sdk_body(&entries, &stream);
        let parsed = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap();
        prop_assert_eq!(parsed(&ours), parsed(&theirs));
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    }
}

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn credentials(token: Option<&str>) -> Credentials {
    Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        token.map(str::to_owned),
        None,
        "test",
    )
}

fn wire(token: Option<&str>) -> Wire {
    let credentials = credentials(token);
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    let settings = AwsSettings {
        region: Some("eu-west-1".into()),
        endpoint_url: Some("https://kinesis.eu-west-1.amazonaws.com:8443/".into()),
        profile: None,
        request_timeout: Duration::from_secs(5),
        permanent_error_backoff: Duration::from_secs(60),
        wire_protocol: edgeship::config::WireProtocol::Json,
        proxy: None,
        ca_file: None,
        iot: None,
        role: None,
    };
    Wire::new(&sdk, &settings, &edgeship::sink::network::Network::direct()).unwrap()
}

/// For bodies written whole (JSON, small CBOR) and a large CBOR body written in frames (hashed
/// in one pass, sent in another), the signature is botocore's over the body's bytes, and those
/// bytes are sent.
#[test]
fn signature_equals_botocores_for_the_same_request() {
    use edgeship::config::WireProtocol;
    let small = vec![Entry::new(
        b"GET /index.html 200\n".to_vec(),
        "/var/log/nginx/access.log",
    )];
    let large: Vec<Entry> = (0..5u8)
        .map(|i| Entry::new(vec![b'a' + i; 100_000], format!("key{i}")))
        .collect();
    let firehose_token = Some("FwoGZXIvYXdzEXAMPLE//token+/==");
    for entries in [small, large] {
        let refs: Vec<&Entry> = entries.iter().collect();
        for (service, protocol, token) in [
            (Service::Kinesis, WireProtocol::Json, None),
            (Service::Kinesis, WireProtocol::Cbor, None),
            (Service::Firehose, WireProtocol::Json, firehose_token),
        ] {
            let mut body = Vec::new();
            let shape = match (service, protocol) {
                (Service::Kinesis, WireProtocol::Json) => {
                    encode::put_records("web", &refs, &mut body);
                    Shape::PutRecords
                }
                (Service::Kinesis, WireProtocol::Cbor) => {
                    edgeship::sink::wire::cbor::put_records("web", &refs, &mut body);
                    Shape::PutRecordsCbor
                }
                (Service::Firehose, _) => {
                    encode::put_record_batch("web", &refs, &mut body);
                    Shape::PutRecordBatch
                }
            };
            let signed = Body::new(shape, "web", &refs);
            assert_eq!(signed.len(), body.len() as u64);
            check_signature((service, protocol), token, signed, &body);
        }
    }
}

fn check_signature(
    (service, protocol): (Service, edgeship::config::WireProtocol),
    token: Option<&str>,
    signed: Body,
    body: &[u8],
) {
    let credentials = credentials(token);
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_633_600);
    let request = wire(token)
        .signed_request(service, protocol, credentials, signed, time)
        .unwrap();
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().into()))
        .collect();
    let spec = serde_json::json!({
        "method": "POST",
        "url": request.uri().to_string(),
        "headers": headers,
        "body": base64_standard(body),
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "token": token,
        "region": "eu-west-1",
        "service": if service == Service::Kinesis { "kinesis" } else { "firehose" },
    });
    let botocore = botocore_authorization(&spec.to_string());
    assert_eq!(
        headers["authorization"].as_str().unwrap(),
        botocore,
        "{service:?}, {} bytes",
        body.len()
    );
    let sent = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(request.into_body().collect())
        .unwrap()
        .to_bytes();
    assert!(sent == body, "the body sent is the body signed");
}

fn base64_standard(data: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(data)
}

fn botocore_authorization(spec: &str) -> String {
    let mut child = Command::new(common::python())
        .arg(common::repo().join("tests/support/kinesis_tool.py"))
        .arg("sigv4-sign")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run kinesis_tool.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "botocore signing failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
