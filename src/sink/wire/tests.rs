use super::*;

#[test]
fn endpoints_are_chosen_as_the_sdk_chooses_them() {
    let table = [
        (
            Some("http://127.0.0.1:4567"),
            Some("http://env:1"),
            Some("http://sdk:2"),
            "eu-west-1",
            "http://127.0.0.1:4567",
        ),
        (
            None,
            Some("http://env:1"),
            Some("http://sdk:2"),
            "eu-west-1",
            "http://env:1",
        ),
        (
            None,
            None,
            Some("http://sdk:2"),
            "eu-west-1",
            "http://sdk:2",
        ),
        (
            None,
            None,
            None,
            "eu-west-1",
            "https://kinesis.eu-west-1.amazonaws.com",
        ),
        (
            None,
            None,
            None,
            "cn-north-1",
            "https://kinesis.cn-north-1.amazonaws.com.cn",
        ),
    ];
    for (configured, variable, sdk, region, expected) in table {
        let url = endpoint_url(
            Service::Kinesis,
            configured,
            variable.map(str::to_owned),
            sdk,
            region,
        );
        assert_eq!(url, expected);
    }
    let firehose = endpoint_url(Service::Firehose, None, None, None, "us-east-1");
    assert_eq!(firehose, "https://firehose.us-east-1.amazonaws.com");
}

#[test]
fn endpoints_must_be_http_urls_with_a_host() {
    let endpoint = parse_endpoint("http://127.0.0.1:4567").unwrap();
    assert_eq!(endpoint.host, "127.0.0.1:4567");
    for bad in ["ftp://x", "127.0.0.1:4567", "http://", "not a url"] {
        let error = parse_endpoint(bad).unwrap_err().to_string();
        assert!(
            error.contains(bad) && error.contains("give a URL"),
            "{error}"
        );
    }
}

fn wire(endpoint: &str) -> Wire {
    Wire {
        http: http_client(&crate::sink::network::Network::direct()),
        credentials: CredentialCache::new(None),
        region: "us-east-1".into(),
        request_timeout: Duration::from_secs(1),
        kinesis: parse_endpoint(endpoint).unwrap(),
        firehose: parse_endpoint(endpoint).unwrap(),
        clock: SkewedClock::default(),
    }
}

#[tokio::test]
async fn requests_carry_the_target_and_a_signature_over_the_body() {
    let credentials = aws_credential_types::Credentials::new(
        "AKID",
        "SECRET",
        Some("TOKEN".into()),
        None,
        "test",
    );
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let request = wire("https://kinesis.us-east-1.amazonaws.com")
        .signed_request(
            Service::Kinesis,
            WireProtocol::Json,
            credentials,
            super::Body::whole(b"{}".to_vec()),
            time,
        )
        .unwrap();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("x-amz-target"), "Kinesis_20131202.PutRecords");
    assert_eq!(header("content-type"), "application/x-amz-json-1.1");
    assert_eq!(header("host"), "kinesis.us-east-1.amazonaws.com");
    assert_eq!(header("x-amz-date"), "20231114T221320Z");
    assert_eq!(header("x-amz-security-token"), "TOKEN");
    let authorization = header("authorization");
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="),
        "{authorization}"
    );
}

#[tokio::test]
async fn missing_credentials_and_refused_connections_are_send_errors() {
    let error = wire("http://127.0.0.1:9")
        .call(
            Service::Kinesis,
            WireProtocol::Json,
            super::Body::whole(b"{}".to_vec()),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, "NoCredentials");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut refused = wire(&format!("http://127.0.0.1:{port}"));
    let credentials = aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "test");
    refused.credentials = CredentialCache::new(Some(
        aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
    ));
    let error = refused
        .call(
            Service::Kinesis,
            WireProtocol::Json,
            super::Body::whole(b"{}".to_vec()),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, "ConnectionError", "{error}");
}

#[test]
fn signing_time_follows_the_services_clock() {
    let clock = SkewedClock::default();
    let ahead = SystemTime::now() + Duration::from_secs(600);
    let date = aws_smithy_types::date_time::DateTime::from(ahead)
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .unwrap();
    clock.learn(&date);
    let skew = clock.now().duration_since(SystemTime::now()).unwrap();
    assert!((598..=601).contains(&skew.as_secs()), "{skew:?}");
    clock.learn("not a date");
    assert!(
        clock.now() > SystemTime::now() + Duration::from_secs(590),
        "a bad header changes nothing"
    );
    let now = aws_smithy_types::date_time::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::HttpDate)
        .unwrap();
    clock.learn(&now);
    let left = clock
        .now()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    assert!(left < Duration::from_secs(1), "{left:?}");
}
