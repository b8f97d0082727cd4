use super::*;
use std::collections::HashMap;

fn choose(configured: Option<&str>, vars: &[(&str, &str)]) -> Result<Option<ProxyChoice>, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    choose_proxy(configured, &|name| vars.get(name).cloned())
}

#[test]
fn the_configured_proxy_wins_then_the_variables_in_either_case() {
    assert_eq!(choose(None, &[]), Ok(None));
    let env = [
        ("HTTPS_PROXY", "http://env:3128"),
        ("NO_PROXY", "internal.example"),
    ];
    let configured = choose(Some("http://cfg:8080"), &env).unwrap().unwrap();
    assert_eq!(configured.https.as_deref(), Some("http://cfg:8080"));
    assert_eq!(configured.from, "[aws] proxy");
    assert!(
        configured
            .no_proxy
            .starts_with("internal.example,169.254.169.254")
    );
    let from_env = choose(None, &env).unwrap().unwrap();
    assert_eq!(
        (from_env.https.as_deref(), from_env.http.as_deref()),
        (Some("http://env:3128"), None)
    );
    let lower = choose(
        None,
        &[
            ("https_proxy", "http://low:1"),
            ("http_proxy", "http://low:2"),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(lower.http.as_deref(), Some("http://low:2"));
    assert_eq!(lower.from, "https_proxy, http_proxy");
    let all = choose(None, &[("ALL_PROXY", "http://all:3")])
        .unwrap()
        .unwrap();
    assert_eq!(
        (all.https.as_deref(), all.http.as_deref()),
        (Some("http://all:3"), Some("http://all:3"))
    );
    assert!(
        all.no_proxy.contains("169.254.169.254"),
        "instance metadata never goes through a proxy"
    );
}

#[test]
fn proxy_urls_are_checked_and_passwords_never_shown() {
    for good in [
        "http://proxy:3128",
        "proxy.corp:8080",
        "http://u:p@10.0.0.1:3128",
    ] {
        assert_eq!(check_proxy_url(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("https://proxy:3129", "not supported"),
        ("socks5://proxy:1080", "not supported"),
        ("http://", "not a URL"),
    ] {
        let error = check_proxy_url(bad).unwrap_err();
        assert!(error.contains(why), "{bad}: {error}");
    }
    let error = choose(Some("https://alice:s3cret@proxy:3129"), &[]).unwrap_err();
    assert!(
        !error.contains("s3cret") && error.contains("alice:***@proxy:3129"),
        "{error}"
    );
    for (url, shown) in [
        (
            "http://alice:s3cret@proxy:3128",
            "http://alice:***@proxy:3128",
        ),
        ("http://proxy:3128", "http://proxy:3128"),
        ("alice:pw@proxy:1/x", "alice:***@proxy:1/x"),
        ("http://a@b:c@proxy:1", "http://a@b:***@proxy:1"),
    ] {
        assert_eq!(redact(url), shown, "{url}");
    }
}

#[test]
fn connection_errors_get_the_setting_that_fixes_them() {
    for (message, key) in [
        ("invalid peer certificate: UnknownIssuer", "ca_file"),
        ("invalid peer certificate: NotValidForName", "endpoint_url"),
        (
            "tunnel error: proxy authorization required",
            "user:password@",
        ),
        ("tunnel error: unsuccessful", "CONNECT"),
    ] {
        assert!(hint(message).is_some_and(|h| h.contains(key)), "{message}");
    }
    assert_eq!(hint("connection refused"), None);
}

#[test]
fn a_ca_file_without_certificates_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let error = load_certificates(&path).unwrap_err().to_string();
    assert!(
        error.contains("ca.pem") && error.contains("no PEM certificate"),
        "{error}"
    );
    let missing = load_certificates(&dir.path().join("missing.pem"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing.pem"), "{missing}");
}
