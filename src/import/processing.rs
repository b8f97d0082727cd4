//! The agent's framing keys (`multiLineStartPattern`, `skipHeaderLines`, ...) and
//! `dataProcessingOptions` -> `[flow.parse]`.

use super::Object;
use super::value::{boolean, number, string, toml_str};
use serde_json::Value;

/// The `[flow.parse]` keys to write (key, TOML value, comment) and notes for the table.
#[derive(Debug, Default)]
pub struct Parse {
    pub keys: Vec<(String, String, Option<String>)>,
    pub notes: Vec<String>,
}

impl Parse {
    fn set(&mut self, key: &str, value: String, note: Option<&str>) {
        self.keys.retain(|(k, _, _)| k != key);
        self.keys
            .push((key.to_owned(), value, note.map(str::to_owned)));
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// A Java regex: set it if Rust's `regex` accepts it, else explain.
    fn regex(&mut self, key: &str, agent_key: &str, pattern: &str) -> bool {
        match regex::Regex::new(pattern) {
            Ok(_) => {
                self.set(
                    key,
                    toml_str(pattern),
                    Some(&format!("agent.json {agent_key}.")),
                );
                true
            }
            Err(e) => {
                self.note(format!("agent.json {agent_key} {pattern:?} is not valid in Rust regex syntax (no look-around or back-references): {e}. Rewrite it and set {key}."));
                false
            }
        }
    }
}

pub fn convert(flow: &Object) -> Result<Parse, String> {
    let mut parse = Parse::default();
    if let Some(p) = flow.get("multiLineStartPattern").and_then(string)
        && parse.regex("multiline_start", "multiLineStartPattern", p)
    {
        parse.set("multiline_flush", "\"1s\"".into(), Some("The agent had no flush timeout; edgeship sends a quiet file's last record after this."));
    }
    if let Some(v) = flow.get("skipHeaderLines") {
        let n = number(v).ok_or("skipHeaderLines is not a number")?;
        parse.set(
            "skip_header_lines",
            n.max(0).to_string(),
            Some(
                "agent.json skipHeaderLines (only for files read from offset 0, as in the agent).",
            ),
        );
    }
    if let Some(t) = flow.get("truncatedRecordTerminator").and_then(string) {
        parse.set(
            "truncated_record_terminator",
            toml_str(t),
            Some("agent.json truncatedRecordTerminator."),
        );
    }
    let options = match flow.get("dataProcessingOptions") {
        None => return Ok(parse),
        Some(Value::Array(options)) => options,
        Some(_) => return Err("dataProcessingOptions must be a list".into()),
    };
    let mut format: Option<String> = None;
    for (i, option) in options.iter().enumerate() {
        let option = option
            .as_object()
            .ok_or(format!("dataProcessingOptions[{i}] is not an object"))?;
        let name = option
            .get("optionName")
            .and_then(string)
            .ok_or(format!("dataProcessingOptions[{i}] has no optionName"))?;
        let new_format = match name {
            "SINGLELINE" => Some(single_line(option, &mut parse)),
            "CSVTOJSON" => Some(csv(option, &mut parse)?),
            "LOGTOJSON" => Some(log_to_json(option, &mut parse)?),
            "ADDMETADATA" => {
                add_metadata(option, &mut parse)?;
                None
            }
            "ADDEC2METADATA" => {
                add_ec2_metadata(option, &mut parse)?;
                None
            }
            "ADDBRACKETS" => {
                parse.note("agent.json ADDBRACKETS (a demo converter wrapping records in {...}): not imported.");
                None
            }
            "USINGPLUGGIN" => {
                parse.note(format!("agent.json USINGPLUGGIN ({}): Java plugins cannot run in edgeship; not imported. Consider format = \"regex\" or a consumer-side transform.", option.get("className").and_then(string).unwrap_or("?")));
                None
            }
            other => {
                return Err(format!(
                    "dataProcessingOptions[{i}]: unknown optionName {other:?} (case-sensitive)"
                ));
            }
        };
        if let Some(f) = new_format
            && let Some(previous) = format.replace(f.clone())
        {
            parse.note(format!("The agent chained {previous} and {f}; edgeship applies one format per flow: {f} is used."));
        }
    }
    if let Some(f) = format {
        parse.set("format", toml_str(&f), None);
        // Keep format first, for readability.
        let at = parse.keys.len() - 1;
        parse.keys[..=at].rotate_right(1);
    }
    Ok(parse)
}

fn single_line(option: &Object, parse: &mut Parse) -> String {
    let options: Vec<&str> = match option.get("parseOptions") {
        Some(Value::Array(a)) => a.iter().filter_map(string).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    if options.contains(&"NO_TRIM") {
        parse.set(
            "single_line_trim",
            "false".into(),
            Some("agent.json SINGLELINE NO_TRIM."),
        );
    }
    if options.contains(&"ESCAPE_NEW_LINE") {
        parse.set(
            "single_line_escape_newlines",
            "true".into(),
            Some("agent.json SINGLELINE ESCAPE_NEW_LINE."),
        );
    }
    "single_line".into()
}

fn names(option: &Object, key: &str) -> Result<Option<Vec<String>>, String> {
    match option.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                string(v)
                    .map(str::to_owned)
                    .ok_or(format!("{key} must list strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}

fn toml_list(names: &[String]) -> String {
    format!(
        "[{}]",
        names
            .iter()
            .map(|n| toml_str(n))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn csv(option: &Object, parse: &mut Parse) -> Result<String, String> {
    let fields = names(option, "customFieldNames")?.ok_or("CSVTOJSON needs customFieldNames")?;
    parse.set(
        "field_names",
        toml_list(&fields),
        Some("agent.json CSVTOJSON customFieldNames."),
    );
    if let Some(d) = option.get("delimiter").and_then(string) {
        match csv_delimiter(d) {
            Some(c) => parse.set("csv_delimiter", toml_str(&c.to_string()).replace('\t', "\\t"), Some("agent.json CSVTOJSON delimiter (a Java regex there, one byte here).")),
            None => parse.note(format!("agent.json CSVTOJSON delimiter {d:?} is a regex edgeship cannot use: csv_delimiter must be one byte; \",\" is used.")),
        }
    }
    json_format(option, parse);
    parse.note("CSVTOJSON -> format \"csv\": RFC 4180 quoting is honoured (the agent split inside quotes), extra columns are kept as column_N (the agent dropped them).");
    Ok("csv".into())
}

/// The agent's delimiter is a Java regex: accept one literal character, escaped or not.
fn csv_delimiter(d: &str) -> Option<char> {
    let mut chars = d.chars();
    let c = match (chars.next(), chars.next(), chars.next()) {
        (Some('\\'), Some('t'), None) => '\t',
        (Some('\\'), Some(c), None) if !c.is_alphanumeric() => c,
        (Some(c), None, None) if !".^$*+?()[]{}|\\".contains(c) => c,
        _ => return None,
    };
    c.is_ascii().then_some(c)
}

fn json_format(option: &Object, parse: &mut Parse) {
    if option.get("jsonFormat").and_then(string) == Some("PRETTYPRINT") {
        parse.note("agent.json jsonFormat PRETTYPRINT: edgeship always writes compact JSON.");
    }
}

fn log_to_json(option: &Object, parse: &mut Parse) -> Result<String, String> {
    let log_format = option
        .get("logFormat")
        .and_then(string)
        .ok_or("LOGTOJSON needs logFormat")?;
    let builtin = match log_format {
        "COMMONAPACHELOG" => "apache_common",
        "COMBINEDAPACHELOG" => "apache_combined",
        "APACHEERRORLOG" => "apache_error",
        "SYSLOG" => "syslog",
        "RFC3339SYSLOG" => "rfc3339_syslog",
        other => {
            return Err(format!(
                "LOGTOJSON logFormat {other:?} is not one of COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, SYSLOG, RFC3339SYSLOG (case-sensitive)"
            ));
        }
    };
    let fields = names(option, "customFieldNames")?;
    json_format(option, parse);
    parse.set("on_failure", "\"send_raw\"".into(), Some("The agent DROPPED lines LOGTOJSON could not match (only a WARN); edgeship sends them as {\"unparsed\": ...}. Use \"drop\" (counted) or \"dead_letter\" to change that."));
    if let Some(pattern) = option.get("matchPattern").and_then(string) {
        let fields = fields.ok_or("LOGTOJSON matchPattern needs customFieldNames")?;
        if parse.regex("pattern", "LOGTOJSON matchPattern", pattern) {
            parse.set(
                "field_names",
                toml_list(&fields),
                Some("agent.json LOGTOJSON customFieldNames (one per group)."),
            );
            if let Err(e) = crate::parse::regex::RegexFormat::new(pattern, &fields) {
                return Err(format!("LOGTOJSON matchPattern: {e}"));
            }
            return Ok("regex".into());
        }
        parse.note(format!(
            "Falling back to the built-in {builtin} format until the pattern is rewritten."
        ));
        return Ok(builtin.into());
    }
    if let Some(fields) = fields {
        parse.set(
            "field_names",
            toml_list(&fields),
            Some("agent.json LOGTOJSON customFieldNames (renames the built-in fields)."),
        );
    }
    Ok(builtin.into())
}

fn add_metadata(option: &Object, parse: &mut Parse) -> Result<(), String> {
    parse.set("metadata_envelope", "true".into(), Some("agent.json ADDMETADATA: {\"ts\", \"metadata\", \"data\"}. After a format, data is the parsed object (the agent put it as a string)."));
    if option.get("timestamp").and_then(boolean) == Some(true) {
        parse.set(
            "add_read_time",
            "true".into(),
            Some("agent.json ADDMETADATA timestamp: the read time, as \"ts\"."),
        );
    }
    match option.get("metadata") {
        None => {}
        Some(Value::Object(map)) => {
            let table = toml::Value::try_from(map).map_err(|e| format!("ADDMETADATA metadata cannot be written as TOML (null values?): {e}"))?;
            parse.set("fields", table.to_string(), Some("agent.json ADDMETADATA metadata."));
        }
        Some(other) => parse.note(format!("agent.json ADDMETADATA metadata {other} is not an object; edgeship's fields must be a table: not imported.")),
    }
    Ok(())
}

fn add_ec2_metadata(option: &Object, parse: &mut Parse) -> Result<(), String> {
    parse.set("ec2_metadata", "true".into(), Some("agent.json ADDEC2METADATA (IMDSv2; fields privateIp, availabilityZone, instanceId, instanceType, accountId, amiId, region, metadataTimestamp). EC2 tags are not added."));
    if let Some(v) = option.get("metadataTTL") {
        let s = number(v).ok_or("ADDEC2METADATA metadataTTL is not a number")?;
        parse.set(
            "ec2_metadata_ttl",
            format!("\"{}s\"", s.max(1)),
            Some("agent.json metadataTTL."),
        );
    }
    Ok(())
}
