use super::*;

#[test]
fn comments_are_removed_outside_strings_only() {
    let text = "{ // note\n \"a\": \"http://x/*y*/\", /* block\n */ \"b\": 1 }";
    let value: serde_json::Value = serde_json::from_str(&strip_comments(text)).unwrap();
    assert_eq!(value["a"], "http://x/*y*/");
    assert_eq!(value["b"], 1);
}
