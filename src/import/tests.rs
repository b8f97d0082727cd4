use super::*;

#[test]
fn comments_are_removed_outside_strings_only() {
    let text = "{ // note\n \"a\": \"http://x/*y*/\", /* block\n */ \"b\": 1 }";
    let value: serde_json::Value = serde_json::from_str(&strip_comments(text)).unwrap();
    assert_eq!(value["a"], "http://x/*y*/");
    assert_eq!(value["b"], 1);
}

/// Fuzz finding: a DEL byte in an unknown key (echoed into a comment) made the TOML invalid.
#[test]
fn control_characters_in_echoed_agent_text_keep_the_toml_valid() {
    let text = "{\"flows\": [{\"filePattern\": \"/x/*.log\", \"kinesisStream\": \"s\", \"odd\\u007f\\rkey\": 1, \"multiLineStartPattern\": \"\\u007f(\"}]}";
    let toml = convert(Path::new("/x/agent.json"), text, false).unwrap();
    toml::from_str::<toml::Table>(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert!(toml.contains("odd\\u{7f}\\u{d}key"), "{toml}");
}
