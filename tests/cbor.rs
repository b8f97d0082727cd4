//! `[aws] wire_protocol = "cbor"` against kinesis-mock (npm `kinesis-local`), the emulator that
//! decodes Kinesis' CBOR protocol, read back with boto3 (which speaks JSON): the records arrive
//! exactly once, byte for byte, and the request bodies carry the data unencoded.

mod common;

use common::proxy::{FaultPlan, FaultProxy};
use common::*;
use std::time::Duration;

#[test]
fn cbor_requests_ship_every_line_once_in_about_a_quarter_fewer_bytes() {
    let kinesis = Emulator::kinesis_mock();
    kinesis.create_stream("cbor", 1);
    let ws = Workspace::new();
    let files = [ws.logs().join("single.log"), ws.logs().join("packed.log")];
    let single = write_lines(&files[0], "single", 0..1_200, 90);
    let packed = write_lines(&files[1], "packed", 0..20_000, 120);
    ws.config(
        "[aws]\nwire_protocol = \"cbor\"\n\n\
         [[flow]]\nname = \"single\"\npaths = [\"$LOGS/single.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"cbor\"\naggregation = \"none\"\nrate_limit = false\n\n\
         [[flow]]\nname = \"packed\"\npaths = [\"$LOGS/packed.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"cbor\"\naggregation = \"lines\"\nrate_limit = false\n",
    );
    let mut agent = ws.start(&kinesis.url);
    ws.wait_fully_checkpointed(&files, Duration::from_secs(240));
    assert!(agent.stop().0.success(), "{}", agent.log());
    let log = agent.log();
    assert!(!log.contains("sending JSON from now on"), "{log}");

    let mut expected = single;
    expected.extend(packed);
    assert_exactly_once(&expected, &kinesis.read_lines("cbor"));

    // The packed flow's records are 256 KiB: its bodies are its data plus a few bytes of
    // framing, where JSON would be 4/3 of it (base64).
    let summary = |name: &str| {
        log.lines()
            .rev()
            .find(|l| l.contains("final: ") && l.contains(&format!("flow={name} ")))
            .unwrap_or_else(|| panic!("no final summary of {name}:\n{log}"))
            .to_owned()
    };
    let field = |line: &str, key: &str| -> f64 {
        let start = line.find(&format!(" {key}=")).unwrap() + key.len() + 2;
        line[start..].split(' ').next().unwrap().parse().unwrap()
    };
    let line = summary("packed");
    let ratio = field(&line, "request_body_bytes") / field(&line, "bytes_delivered");
    assert!(
        (1.0..1.01).contains(&ratio),
        "body / data = {ratio:.4}: {line}"
    );
}

#[test]
fn an_endpoint_without_cbor_gets_one_warning_and_json_from_then_on() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("fallback", 1);
    let plan = FaultPlan {
        reject_cbor: true,
        ..FaultPlan::default()
    };
    let proxy = FaultProxy::start(kinesis.port, plan);
    let ws = Workspace::new();
    let file = ws.logs().join("app.log");
    let expected = write_lines(&file, "fb", 0..3_000, 60);
    ws.config("[aws]\nwire_protocol = \"cbor\"\n\n[[flow]]\nname = \"fallback\"\npaths = [\"$LOGS/app.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"fallback\"\nrate_limit = false\n");
    let mut agent = ws.start(&proxy.url);
    ws.wait_fully_checkpointed(std::slice::from_ref(&file), Duration::from_secs(120));
    assert!(agent.stop().0.success(), "{}", agent.log());
    let log = agent.log();
    assert_eq!(log.matches("sending JSON from now on").count(), 1, "{log}");
    assert_exactly_once(&expected, &kinesis.read_lines("fallback"));
    // Only the requests already in flight (at most max_in_flight = 4) tried CBOR.
    let rejected = proxy.stats().cbor_rejected;
    assert!((1..=4).contains(&rejected), "{rejected} CBOR requests");
}
