//! Is this the file we knew? Checks a checkpoint against the file found now (inode reuse,
//! truncation, rewrite), recognises a copy of a known file by its content (copytruncate, a
//! compressed rotation), and finds a checkpointed file that was rotated while the agent was
//! stopped.

use super::fingerprint::{self, Fingerprint, HEAD_BYTES, Mark, ReadAt};
use super::source::Source;
use super::{FileKey, KnownFile};
use std::io;
use std::path::{Path, PathBuf};

/// Heads shorter than this are too weak to call another file a copy (a one-line header).
pub const MIN_COPY_HEAD: u32 = 64;

/// What a checkpoint says about the file now carrying its `(dev, inode)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Same content up to the checkpoint: resume there.
    Resume,
    /// Different first bytes: the inode was reused by another file (or the file was rewritten).
    Reused,
    /// Shorter than the checkpoint: truncated while we were not looking.
    Truncated,
    /// The bytes before the checkpoint changed: truncated and written again past it.
    Rewritten,
}

pub fn check_checkpoint(source: &mut Source, size: u64, known: &KnownFile) -> io::Result<Checked> {
    // A compressed file's offsets are in its decompressed content; its size says nothing.
    let size = if source.is_compressed() {
        u64::MAX
    } else {
        size
    };
    if let Some(head) = &known.head
        && !fingerprint::head_matches(source, head)?
    {
        return Ok(if known.offset > size {
            Checked::Truncated
        } else {
            Checked::Reused
        });
    }
    if known.offset > size {
        return Ok(Checked::Truncated);
    }
    if let Some(mark) = &known.mark
        && mark.at <= known.offset
        && !fingerprint::mark_matches(source, mark)?
    {
        return Ok(Checked::Rewritten);
    }
    Ok(Checked::Resume)
}

/// Whether the bytes before `mark.at` in `source` are the marked ones; `None` if the data
/// ends before `mark.at`.
pub fn compare_mark(source: &mut Source, mark: &Mark) -> io::Result<Option<bool>> {
    let mut buf = vec![0; mark.before.len as usize];
    let n = source.read_at(mark.start(), &mut buf)?;
    Ok((n == buf.len()).then(|| Fingerprint::of(&buf) == mark.before))
}

/// The first of `candidates` whose head `source` starts with, if any.
pub fn find_original(
    source: &mut Source,
    candidates: &[(FileKey, Fingerprint)],
) -> io::Result<Option<FileKey>> {
    let mut prefix = vec![0; HEAD_BYTES as usize];
    let n = source.read_at(0, &mut prefix)?;
    let found = candidates.iter().find(|(_, head)| {
        let len = head.len as usize;
        head.len >= MIN_COPY_HEAD && len <= n && Fingerprint::of(&prefix[..len]) == *head
    });
    Ok(found.map(|(key, _)| *key))
}

/// Where a checkpointed file went while the agent was stopped, searched among its siblings
/// whose name extends its own (`app.log.1`, `app.log-20261128`, `app.log.1.gz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The same inode, with the same first bytes, under another name.
    Renamed(PathBuf),
    /// Another file whose (decompressed) head matches: a compressed rotation, or the copy a
    /// `copytruncate` made.
    Copy(PathBuf),
}

pub fn find_rotated(known: &KnownFile) -> Option<Found> {
    let siblings = siblings_of(&known.path)?;
    // An inode freed while we were away may hold another file now: the head must match too.
    let same_content = |p: &PathBuf| known.head.is_none_or(|head| starts_with_head(p, &head));
    // A rotation outside `paths` followed under its own name may still be there.
    if has_key(&known.path, known.key) && same_content(&known.path) {
        return Some(Found::Renamed(known.path.clone()));
    }
    if let Some(path) = siblings
        .iter()
        .find(|p| has_key(p, known.key) && same_content(p))
    {
        return Some(Found::Renamed(path.clone()));
    }
    let head = known.head?;
    siblings
        .into_iter()
        .filter(|p| !has_key(p, known.key))
        .filter(|p| head.len >= MIN_COPY_HEAD || p.extension().is_some_and(|e| e == "gz"))
        .find(|p| starts_with_head(p, &head))
        .map(Found::Copy)
}

/// The checkpointed inode under another name of the same log, whatever it holds now: a file
/// truncated (or truncated and written again) while the agent was stopped, then rotated.
pub fn find_inode(known: &KnownFile) -> Option<PathBuf> {
    let base = rotation_base(known.path.file_name()?.to_str()?);
    siblings_of(&known.path)?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str());
            name.is_some_and(|n| rotation_base(n) == base)
        })
        .find(|p| has_key(p, known.key))
}

/// The other files in `path`'s directory whose names extend the name of the log `path` is a
/// rotation of: a file checkpointed as `app.log.1` may be `app.log.2.gz` now.
fn siblings_of(path: &Path) -> Option<Vec<PathBuf>> {
    let dir = path.parent()?;
    let name = path.file_name()?.to_str()?;
    let base = rotation_base(name);
    let mut siblings: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(base) && n != name)
        })
        .map(|e| e.path())
        .collect();
    siblings.sort();
    Some(siblings)
}

/// The name of the log a rotated file came from: `app.log.2.gz`, `app.log-20261128` and
/// `app.log.1` all come from `app.log` (suffixes of digits, `.gz`, and dated names stripped).
pub fn rotation_base(name: &str) -> &str {
    let mut base = name;
    loop {
        let stripped =
            base.strip_suffix(".gz")
                .unwrap_or_else(|| match base.rfind(['.', '-', '_']) {
                    Some(at)
                        if at > 0
                            && at + 1 < base.len()
                            && base[at + 1..].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        &base[..at]
                    }
                    _ => base,
                });
        if stripped == base || stripped.is_empty() {
            return base;
        }
        base = stripped;
    }
}

/// Every rotation (`app.log.1`, `app.log.2.gz`, `app.log-20261128`) of the given logs, with
/// the log it is a rotation of.
pub fn rotations_of<'a>(logs: impl Iterator<Item = &'a PathBuf>) -> Vec<(PathBuf, PathBuf)> {
    let mut found = std::collections::BTreeMap::new();
    for log in logs {
        let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str()))
        else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let sibling = entry.file_name();
            let Some(sibling) = sibling.to_str() else {
                continue;
            };
            if sibling != name && sibling.starts_with(name) && rotation_base(sibling) == name {
                found.insert(entry.path(), log.clone());
            }
        }
    }
    found.into_iter().collect()
}

/// Whether the file at `path` starts with one of `heads` long enough to tell (a copy of a
/// known file).
pub fn starts_with_any(path: &Path, heads: &[Fingerprint]) -> bool {
    heads
        .iter()
        .filter(|head| head.len >= MIN_COPY_HEAD)
        .any(|head| starts_with_head(path, head))
}

fn has_key(path: &Path, key: FileKey) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && FileKey::of(&m) == key)
}

fn starts_with_head(path: &Path, head: &Fingerprint) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut source = Source::new(file, path);
    fingerprint::head_matches(&mut source, head).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn known(path: &Path, content: &[u8], offset: u64) -> KnownFile {
        let meta = fs::metadata(path).unwrap();
        KnownFile {
            key: FileKey::of(&meta),
            path: path.to_owned(),
            offset,
            head: Some(Fingerprint::head(content)),
            mark: Some(Mark::ending(offset, &content[..offset as usize])),
        }
    }

    fn source(path: &Path) -> Source {
        Source::new(fs::File::open(path).unwrap(), path)
    }

    #[test]
    fn rotation_bases() {
        for (name, base) in [
            ("app.log", "app.log"),
            ("app.log.1", "app.log"),
            ("app.log.2.gz", "app.log"),
            ("app.log-20261128", "app.log"),
            ("app.log-20261128.gz", "app.log"),
            ("app.log.gz", "app.log"),
            ("app_2026.log.3", "app_2026.log"),
            ("1", "1"),
            (".5", ".5"),
        ] {
            assert_eq!(rotation_base(name), base, "{name}");
        }
    }

    #[test]
    fn checkpoint_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let content = b"alpha line\nbeta line\ngamma line\n".repeat(60);
        fs::write(&path, &content).unwrap();
        let k = known(&path, &content, 1600);
        let size = content.len() as u64;
        assert_eq!(
            check_checkpoint(&mut source(&path), size, &k).unwrap(),
            Checked::Resume
        );
        fs::write(&path, b"alpha").unwrap();
        assert_eq!(
            check_checkpoint(&mut source(&path), 5, &k).unwrap(),
            Checked::Truncated
        );
        let mut rewritten = content.clone();
        rewritten[1590] = b'X';
        fs::write(&path, &rewritten).unwrap();
        assert_eq!(
            check_checkpoint(&mut source(&path), size, &k).unwrap(),
            Checked::Rewritten
        );
        fs::write(&path, b"something else entirely\n".repeat(80)).unwrap();
        assert_eq!(
            check_checkpoint(&mut source(&path), 1700, &k).unwrap(),
            Checked::Reused
        );
    }

    #[test]
    fn finds_a_renamed_sibling_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let content = b"line\n".repeat(30);
        fs::write(&path, &content).unwrap();
        let k = known(&path, &content, 10);
        fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        fs::write(&path, b"new\n").unwrap();
        fs::write(dir.path().join("other.log"), b"x\n").unwrap();
        assert_eq!(
            find_rotated(&k),
            Some(Found::Renamed(dir.path().join("app.log.1")))
        );
    }

    #[test]
    fn finds_a_later_compressed_rotation_of_a_rotated_file() {
        // Checkpointed inside app.log.1; while stopped, logrotate made it app.log.2.gz.
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log.1");
        let content = b"rotated line\n".repeat(200);
        fs::write(&path, &content).unwrap();
        let k = known(&path, &content, 100);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&content).unwrap();
        fs::write(dir.path().join("app.log.2.gz"), gz.finish().unwrap()).unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(dir.path().join("app.log.1"), b"a newer rotation\n").unwrap();
        assert_eq!(
            find_rotated(&k),
            Some(Found::Copy(dir.path().join("app.log.2.gz")))
        );
    }

    #[test]
    fn a_rotation_followed_under_its_own_name_is_found_where_it_is() {
        // Followed as app.log.2 (outside `paths`), killed, no rotation since.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log.2");
        let content = b"rotated line\n".repeat(50);
        fs::write(&path, &content).unwrap();
        fs::write(dir.path().join("app.log"), b"live\n").unwrap();
        let k = known(&path, &content, 26);
        assert_eq!(find_rotated(&k), Some(Found::Renamed(path)));
    }

    #[test]
    fn a_reused_inode_is_not_a_rename_and_the_copy_is_found_instead() {
        // Checkpointed in app.log.1 (inode K); while stopped, it became app.log.2 by copy and
        // a new app.log.1 took inode K over.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log.1");
        let content = b"old rotated line\n".repeat(100);
        fs::write(&path, &content).unwrap();
        let mut k = known(&path, &content, 100);
        fs::write(dir.path().join("app.log.2"), &content).unwrap();
        fs::write(
            dir.path().join("app.log"),
            b"a newer file entirely\n".repeat(10),
        )
        .unwrap();
        k.key = FileKey::of(&fs::metadata(dir.path().join("app.log")).unwrap());
        assert_eq!(
            find_rotated(&k),
            Some(Found::Copy(dir.path().join("app.log.2")))
        );
    }

    #[test]
    fn the_checkpointed_inode_is_found_under_a_rotated_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let rotated = dir.path().join("app.log.1");
        let other = dir.path().join("app.log_audit.json");
        fs::write(&rotated, b"new content after a truncation\n").unwrap();
        fs::write(&other, b"another log entirely\n").unwrap();
        let old = b"the content checkpointed before\n";
        let at = |path: &Path| KnownFile {
            path: log.clone(),
            ..known(path, old, 0)
        };
        assert_eq!(
            find_inode(&at(&rotated)),
            Some(rotated.clone()),
            "whatever it holds"
        );
        assert_eq!(find_inode(&at(&other)), None, "not a rotation of app.log");
    }

    #[test]
    fn short_heads_do_not_make_copies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        fs::write(&path, b"header\nrow\n").unwrap();
        let head = Fingerprint::head(b"header\n");
        let key = FileKey { dev: 1, inode: 1 };
        assert_eq!(
            find_original(&mut source(&path), &[(key, head)]).unwrap(),
            None
        );
        let long = b"0123456789".repeat(20);
        fs::write(&path, &long).unwrap();
        let head = Fingerprint::head(&long[..100]);
        assert_eq!(
            find_original(&mut source(&path), &[(key, head)]).unwrap(),
            Some(key)
        );
    }
}
