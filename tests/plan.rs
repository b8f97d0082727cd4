//! `edgeship plan` against logs written by `edgeship generate` at known rates: the measured
//! rates within 10% of the truth, shard counts exact for rates away from the boundaries.

mod common;

use common::tls::Running;
use common::*;
use std::time::Duration;

#[test]
fn plan_measures_generated_logs_and_sizes_each_mode() {
    let ws = Workspace::new();
    ws.config("[[flow]]\nname = \"busy\"\npaths = [\"$LOGS/busy.log*\"]\nkinesis_stream = \"s\"\n\n[[flow]]\nname = \"quiet\"\npaths = [\"$LOGS/quiet.log\"]\nkinesis_stream = \"q\"\n");
    let spawn = |name: &str, rate: &str, extra: &[&str]| {
        edgeship()
            .args([
                "generate",
                "--format",
                "json",
                "--rate",
                rate,
                "--duration",
                "8s",
            ])
            .args(["--line-bytes", "300", "--output"])
            .arg(ws.logs().join(name))
            .args(extra)
            .spawn()
            .unwrap()
    };
    // The busy log is rotated midway: a rename must not count twice.
    let mut busy = Running(spawn("busy.log", "1500", &["--rotate-every", "3s"]));
    let mut quiet = Running(spawn("quiet.log", "20", &[]));
    std::thread::sleep(Duration::from_secs(1));
    let output = edgeship()
        .args(["plan", "--for", "5s", "--json", "--config"])
        .arg(ws.path("edgeship.toml"))
        .output()
        .unwrap();
    busy.0.wait().unwrap();
    quiet.0.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let flow = |name: &str| {
        plan["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let within = |got: &serde_json::Value, truth: f64| {
        let got = got.as_f64().unwrap();
        assert!((got - truth).abs() <= truth * 0.1, "{got} vs {truth}");
    };
    let busy = flow("busy");
    within(&busy["lines_per_sec"], 1500.0);
    within(&busy["bytes_per_sec"], 1500.0 * 301.0);
    // 1,500 records/s x 1.2 headroom: 2 shards; packed, 452 KB/s x 1.2 fits one.
    assert_eq!(busy["modes"]["none"]["shards"], 2, "{busy}");
    assert_eq!(busy["modes"]["lines"]["shards"], 1);
    assert_eq!(busy["modes"]["kpl"]["shards"], 1);
    let none_units = busy["modes"]["none"]["put_units_per_month"]
        .as_f64()
        .unwrap();
    let kpl_units = busy["modes"]["kpl"]["put_units_per_month"]
        .as_f64()
        .unwrap();
    assert!(
        kpl_units * 50.0 < none_units,
        "kpl {kpl_units} vs none {none_units}"
    );
    let quiet = flow("quiet");
    within(&quiet["lines_per_sec"], 20.0);
    assert_eq!(quiet["modes"]["none"]["shards"], 1);
    assert!(
        plan["prices"]["taken"]
            .as_str()
            .unwrap()
            .contains("us-east-1")
    );
}

/// `--metrics`: the rates a running agent reads, from its Prometheus counters.
#[test]
fn plan_reads_a_running_agents_metrics() {
    let kinesis = Emulator::kinesalite();
    kinesis.create_stream("s", 1);
    let ws = Workspace::new();
    let port = free_port();
    ws.config(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[[flow]]\nname = \"web\"\npaths = [\"$LOGS/web.log\"]\nstart_at = \"beginning\"\nkinesis_stream = \"s\"\naggregation = \"kpl\"\n"));
    let mut generator = Running(
        edgeship()
            .args(["generate", "--format", "apache_combined", "--rate", "400"])
            .args(["--duration", "8s", "--line-bytes", "200", "--output"])
            .arg(ws.logs().join("web.log"))
            .spawn()
            .unwrap(),
    );
    let agent = ws.start(&kinesis.url);
    wait_for(Duration::from_secs(30), "the agent reading", || {
        agent.log().contains("edgeship is running")
    });
    std::thread::sleep(Duration::from_secs(1));
    let output = edgeship()
        .args(["plan", "--for", "4s", "--json", "--config"])
        .arg(ws.path("edgeship.toml"))
        .arg("--metrics")
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    generator.0.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let web = &plan["flows"][0];
    let lines = web["lines_per_sec"].as_f64().unwrap();
    assert!((360.0..=440.0).contains(&lines), "{web}");
    let bytes = web["bytes_per_sec"].as_f64().unwrap();
    assert!(
        (400.0 * 201.0 * 0.9..=400.0 * 201.0 * 1.1).contains(&bytes),
        "{web}"
    );
    assert_eq!(web["modes"]["none"]["shards"], 1);
}
