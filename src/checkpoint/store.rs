//! `<state_dir>/checkpoints.json`: versioned JSON, written to a temp file, fsynced, renamed over
//! the old one, then the directory fsynced, so a crash leaves either the old or the new file.
//! A corrupt file is moved aside with a warning (never a crash loop). A lock file keeps a second
//! agent off the same state directory.

use crate::tail::{FileKey, Fingerprint, KnownFile, Mark, Resume};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "checkpoints.json";
const TMP_NAME: &str = "checkpoints.json.tmp";
const LOCK_NAME: &str = "edgeship.lock";

/// What is known about one file of one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheckpoint {
    pub flow: String,
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    /// Every byte before this offset has been acknowledged by AWS.
    pub offset: u64,
    /// When the offset last changed (RFC 3339).
    pub updated: String,
    /// Fingerprint of the file's first bytes (`"<length>:<hash>"`): tells a reused inode or a
    /// rewritten file from the one checkpointed, and recognises compressed copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Fingerprint>,
    /// Hash of the bytes just before `mark.at` (at most `offset`), checked when resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
    /// Journal flows: the cursor of the last acknowledged entry (the flow resumes after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl FileCheckpoint {
    pub fn key(&self) -> (String, FileKey) {
        (
            self.flow.clone(),
            FileKey {
                dev: self.dev,
                inode: self.inode,
            },
        )
    }

    fn known(&self) -> KnownFile {
        KnownFile {
            key: self.key().1,
            path: self.path.clone(),
            offset: self.offset,
            head: self.head,
            mark: self.mark,
        }
    }
}

/// All checkpoints, by flow and file identity, and the files recently read to their end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoints {
    pub files: BTreeMap<(String, FileKey), FileCheckpoint>,
    /// Files rotated away or deleted after being shipped completely, kept for a while (see
    /// the tracker) so a compressed copy of them is not shipped again.
    pub finished: Vec<FileCheckpoint>,
    /// The checkpoint file was unreadable and moved aside: when it was last written. Which
    /// bytes were acknowledged is unknown, so what `start_at = "end"` skips is counted.
    pub unreadable_since: Option<std::time::SystemTime>,
}

impl Checkpoints {
    /// Where `flow`'s tailer starts.
    pub fn resume(&self, flow: &str) -> Resume {
        Resume {
            files: self
                .files
                .iter()
                .filter(|((f, _), _)| f == flow)
                .map(|((_, key), c)| (*key, c.known()))
                .collect(),
            finished: self
                .finished
                .iter()
                .filter(|c| c.flow == flow)
                .map(FileCheckpoint::known)
                .collect(),
            checkpointed_at: self
                .files
                .values()
                .chain(&self.finished)
                .filter(|c| c.flow == flow)
                .filter_map(|c| humantime::parse_rfc3339_weak(&c.updated).ok())
                .max()
                .or(self.unreadable_since),
            checkpoints_unreadable: self.unreadable_since.is_some(),
            cursors: self
                .files
                .iter()
                .filter(|((f, _), _)| f == flow)
                .filter_map(|((_, key), c)| Some((*key, c.cursor.clone()?)))
                .collect(),
        }
    }

    fn from_lists(files: Vec<FileCheckpoint>, finished: Vec<FileCheckpoint>) -> Checkpoints {
        Checkpoints {
            files: files.into_iter().map(|c| (c.key(), c)).collect(),
            finished,
            unreadable_since: None,
        }
    }
}

/// Version 2 added `head`, `mark` and `finished`; version 1 files load unchanged.
#[derive(Serialize, Deserialize)]
#[serde(tag = "version")]
enum StateFile {
    #[serde(rename = "1")]
    V1 { files: Vec<FileCheckpoint> },
    #[serde(rename = "2")]
    V2 {
        files: Vec<FileCheckpoint>,
        #[serde(default)]
        finished: Vec<FileCheckpoint>,
    },
}

impl StateFile {
    fn into_checkpoints(self) -> Checkpoints {
        match self {
            StateFile::V1 { files } => Checkpoints::from_lists(files, Vec::new()),
            StateFile::V2 { files, finished } => Checkpoints::from_lists(files, finished),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot use state directory {dir}: {source}; check that it exists and is writable by the edgeship user (state_dir in the config)"
    )]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another edgeship is already running with state directory {dir} (lock {lock} is held); stop it or give this one its own state_dir"
    )]
    Locked { dir: PathBuf, lock: PathBuf },
    #[error("cannot write checkpoints to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The opened, locked state directory.
pub struct Store {
    dir: PathBuf,
    _lock: File,
}

impl Store {
    /// Creates and locks the directory and loads the checkpoints found there.
    pub fn open(dir: &Path) -> Result<(Store, Checkpoints), StoreError> {
        let dir_error = |source| StoreError::Dir {
            dir: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(dir_error)?;
        let lock_path = dir.join(LOCK_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(dir_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir: dir.to_owned(),
                    lock: lock_path,
                });
            }
            Err(fs::TryLockError::Error(source)) => return Err(dir_error(source)),
        }
        let store = Store {
            dir: dir.to_owned(),
            _lock: lock,
        };
        let checkpoints = store.load();
        Ok((store, checkpoints))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn load(&self) -> Checkpoints {
        let (path, tmp) = (self.path(), self.dir.join(TMP_NAME));
        let source = if path.exists() {
            path.clone()
        } else {
            tmp.clone()
        };
        let loaded = match fs::read(&source) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(state) => state.into_checkpoints(),
                Err(error) if source == path => {
                    let aside = self.dir.join(format!("{FILE_NAME}.corrupt-{}", unix_now()));
                    tracing::warn!(file = %path.display(), moved_to = %aside.display(), "checkpoint file is unreadable ({error}); moved aside, starting without checkpoints (start_at applies to every file; with start_at = \"end\" what is skipped is counted in edgeship_skipped_bytes_total)");
                    let written = fs::metadata(&path).and_then(|m| m.modified()).ok();
                    let _ = fs::rename(&path, &aside);
                    Checkpoints {
                        unreadable_since: Some(written.unwrap_or(std::time::UNIX_EPOCH)),
                        ..Checkpoints::default()
                    }
                }
                // An interrupted first write: nothing was committed yet.
                Err(_) => Checkpoints::default(),
            },
            Err(_) => Checkpoints::default(),
        };
        if source == tmp && !loaded.files.is_empty() {
            tracing::warn!(file = %tmp.display(), "recovered checkpoints from a temp file left by an interrupted write");
            let _ = fs::rename(&tmp, &path);
        } else {
            let _ = fs::remove_file(&tmp);
        }
        loaded
    }

    /// Writes all checkpoints atomically and durably.
    pub fn save(&self, checkpoints: &Checkpoints) -> Result<(), StoreError> {
        let state = StateFile::V2 {
            files: checkpoints.files.values().cloned().collect(),
            finished: checkpoints.finished.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&state).expect("checkpoints serialize");
        let (path, tmp) = (self.path(), self.dir.join(TMP_NAME));
        let write_error = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        let mut file = File::create(&tmp).map_err(write_error)?;
        file.write_all(&bytes).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        fs::rename(&tmp, &path).map_err(write_error)?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(write_error)?;
        Ok(())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads a checkpoint file without locking (for `edgeship status`-style inspection and tests).
pub fn read_checkpoints(path: &Path) -> std::io::Result<Vec<FileCheckpoint>> {
    let bytes = fs::read(path)?;
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(state) => Ok(state.into_checkpoints().files.into_values().collect()),
        Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(offset: u64) -> FileCheckpoint {
        FileCheckpoint {
            flow: "f".into(),
            path: "/var/log/a.log".into(),
            dev: 1,
            inode: 2,
            offset,
            updated: "2026-01-01T00:00:00Z".into(),
            head: None,
            mark: None,
            cursor: None,
        }
    }

    #[test]
    fn save_then_open_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (store, empty) = Store::open(dir.path()).unwrap();
        assert!(empty.files.is_empty());
        let mut c = checkpoint(42);
        c.head = Some(Fingerprint::of(b"head"));
        c.mark = Some(Mark::ending(42, b"before"));
        let saved = Checkpoints::from_lists(vec![c.clone()], vec![checkpoint(7)]);
        store.save(&saved).unwrap();
        drop(store);
        let (_store, loaded) = Store::open(dir.path()).unwrap();
        assert_eq!(loaded, saved);
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.contains("\"version\": \"2\""), "{text}");
    }

    #[test]
    fn version_1_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = r#"{"version":"1","files":[{"flow":"f","path":"/var/log/a.log","dev":1,"inode":2,"offset":9,"updated":"2026-01-01T00:00:00Z"}]}"#;
        fs::write(dir.path().join(FILE_NAME), v1).unwrap();
        let (_store, loaded) = Store::open(dir.path()).unwrap();
        assert_eq!(loaded.files.values().next(), Some(&checkpoint(9)));
    }

    #[test]
    fn second_agent_on_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let error = Store::open(dir.path()).err().unwrap();
        assert!(error.to_string().contains("already running"), "{error}");
    }

    #[test]
    fn corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let (_store, loaded) = Store::open(dir.path()).unwrap();
        assert!(loaded.files.is_empty());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("checkpoints.json.corrupt-")),
            "{names:?}"
        );
    }

    #[test]
    fn leftover_temp_file_is_recovered_when_main_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let c = checkpoint(7);
        let state = StateFile::V1 {
            files: vec![c.clone()],
        };
        fs::write(
            dir.path().join(TMP_NAME),
            serde_json::to_vec(&state).unwrap(),
        )
        .unwrap();
        let (_store, loaded) = Store::open(dir.path()).unwrap();
        assert_eq!(loaded.files.values().collect::<Vec<_>>(), [&c]);
        assert!(!dir.path().join(TMP_NAME).exists());
    }
}
