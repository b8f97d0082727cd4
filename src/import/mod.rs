//! `edgeship import-kinesis-agent PATH`: converts the Java Kinesis Agent's `agent.json` (with
//! comments, string numbers, and the flows of an `agent.d/` directory beside it, as the agent
//! merges them) into an edgeship TOML config. Every agent key is either mapped or explained in a
//! comment; nothing is dropped silently, because the agent itself ignoring unknown keys is a
//! known trap (a misspelt key there silently keeps its default).

mod flow;
mod globals;
mod processing;
mod value;

use std::path::{Path, PathBuf};

pub use value::strip_comments;

/// Why an `agent.json` cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {message} (comments are allowed; trailing commas are not)")]
    Json { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

type Object = serde_json::Map<String, serde_json::Value>;

/// Reads `path` and the `agent.d/*` files next to it and returns the TOML text.
pub fn import(path: &Path) -> Result<String, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    convert(path, &text, true)
}

/// Converts agent.json `text`; `path` names it in messages and, with `drop_ins`, locates the
/// `agent.d/` directory (the fuzz target converts text alone).
pub fn convert(path: &Path, text: &str, drop_ins: bool) -> Result<String, ImportError> {
    let main = parse_object(path, text)?;
    let mut flows = flows_of(path, &main)?;
    let mut notes = Vec::new();
    let dir = path.parent().map(|d| d.join("agent.d"));
    if let Some(dir) = dir.filter(|d| drop_ins && d.is_dir()) {
        for file in drop_in_files(&dir, &mut notes) {
            match read_object(&file).and_then(|o| flows_of(&file, &o)) {
                Ok(more) => flows.extend(more),
                // The agent skips unreadable drop-ins with a warning (PR #113); so do we.
                Err(error) => notes.push(format!("skipped {error}")),
            }
        }
    }
    if flows.is_empty() {
        return Err(ImportError::Invalid {
            path: path.to_owned(),
            message: "no flows: the agent needs at least one entry in \"flows\"".into(),
        });
    }
    let mut out = value::Toml::default();
    out.comment(&format!(
        "Converted from {} by `edgeship import-kinesis-agent`.",
        path.display()
    ));
    out.comment("Review every comment below, then: edgeship validate --config THIS_FILE");
    for note in notes {
        out.comment(&note);
    }
    globals::convert(&main, &mut out).map_err(|message| ImportError::Invalid {
        path: path.to_owned(),
        message,
    })?;
    let mut names = Vec::new();
    for (index, (source, flow)) in flows.iter().enumerate() {
        flow::convert(index, source, flow, &mut names, &mut out).map_err(|message| {
            ImportError::Invalid {
                path: source.clone(),
                message: format!("flows[{index}]: {message}"),
            }
        })?;
    }
    Ok(out.finish())
}

fn read_object(path: &Path) -> Result<Object, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_object(path, &text)
}

fn parse_object(path: &Path, text: &str) -> Result<Object, ImportError> {
    let value: serde_json::Value =
        serde_json::from_str(&strip_comments(text)).map_err(|e| ImportError::Json {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    match value {
        serde_json::Value::Object(object) => Ok(object),
        _ => Err(ImportError::Invalid {
            path: path.to_owned(),
            message: "the top level must be a JSON object".into(),
        }),
    }
}

fn flows_of(path: &Path, object: &Object) -> Result<Vec<(PathBuf, Object)>, ImportError> {
    let invalid = |message: &str| ImportError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    };
    match object.get("flows") {
        None => Ok(Vec::new()),
        Some(serde_json::Value::Array(flows)) => flows
            .iter()
            .map(|f| match f {
                serde_json::Value::Object(o) => Ok((path.to_owned(), o.clone())),
                _ => Err(invalid("every entry of \"flows\" must be an object")),
            })
            .collect(),
        Some(_) => Err(invalid("\"flows\" must be a list")),
    }
}

fn drop_in_files(dir: &Path, notes: &mut Vec<String>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files
        }
        Err(error) => {
            notes.push(format!("cannot list {}: {error}", dir.display()));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
