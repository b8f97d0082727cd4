//! Expands a flow's glob patterns into the files that exist now. Each pattern is walked from its
//! longest literal directory prefix, so `/var/log/app/*.log` reads one directory and `**`
//! recurses only below the prefix. Unreadable directories are reported, never fatal.

use crate::config::FileSelection;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Result of one scan: the matching files (sorted, deduplicated) and the problems met.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: BTreeSet<PathBuf>,
    /// The matched paths that are symlinks (inotify reports their targets' directories).
    pub symlinks: BTreeSet<PathBuf>,
    pub errors: Vec<(PathBuf, std::io::Error)>,
    /// Matched paths that are not regular files (directories, FIFOs, sockets, devices): never
    /// read, named so a user can tell why.
    pub not_files: Vec<(PathBuf, &'static str)>,
}

/// What a matched path that is not a regular file is, for messages.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Lists the regular files (symlinks followed) that the flow matches right now.
pub fn scan(files: &FileSelection) -> Scan {
    let mut result = Scan::default();
    for pattern in &files.paths {
        let (base, depth) = walk_root(pattern);
        let walker = walkdir::WalkDir::new(&base)
            .follow_links(true)
            .max_depth(depth);
        for entry in walker {
            match entry {
                Ok(entry) => {
                    // With follow_links the type is the target's: one stat per entry.
                    let path = entry.path();
                    if !files.matches(path) {
                        continue;
                    }
                    if entry.file_type().is_file() {
                        result.files.insert(path.to_owned());
                        if entry.path_is_symlink() {
                            result.symlinks.insert(path.to_owned());
                        }
                    } else {
                        result
                            .not_files
                            .push((path.to_owned(), kind_of(entry.file_type())));
                    }
                }
                Err(err) => {
                    let path = err.path().unwrap_or(&base).to_owned();
                    let is_missing_root = path == base
                        && err.io_error().map(|e| e.kind()) == Some(std::io::ErrorKind::NotFound);
                    if !is_missing_root {
                        result.errors.push((path, err.into()));
                    }
                }
            }
        }
    }
    result
}

/// The longest literal directory of a pattern: where its files appear (for a pattern without
/// glob syntax, the directory holding that one file).
pub fn literal_root(pattern: &str) -> PathBuf {
    let (base, depth) = walk_root(pattern);
    match (depth, base.parent()) {
        (0, Some(parent)) => parent.to_owned(),
        _ => base,
    }
}

/// The directory to walk for a pattern and how deep: the components before the first one with
/// glob syntax, and the number after it (unbounded with `**`).
fn walk_root(pattern: &str) -> (PathBuf, usize) {
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let literal = components
        .iter()
        .take_while(|c| !has_glob_syntax(c))
        .count();
    let mut base = PathBuf::from("/");
    base.extend(&components[..literal]);
    let rest = &components[literal..];
    let depth = if rest.iter().any(|c| c.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    (base, depth)
}

fn has_glob_syntax(component: &str) -> bool {
    component.contains(['*', '?', '[', '{'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_paths_that_are_not_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.log"), "x\n").unwrap();
        std::fs::create_dir(root.join("d.log")).unwrap();
        let fifo = std::ffi::CString::new(root.join("p.log").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let text = format!(
            "[[flow]]\nname = \"t\"\npaths = [\"{}/*.log\"]\nkinesis_stream = \"s\"\n",
            root.display()
        );
        let config = crate::config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        let scan = scan(&config.flows[0].files);
        assert_eq!(scan.files.len(), 1);
        let mut kinds: Vec<_> = scan.not_files.iter().map(|(_, kind)| *kind).collect();
        kinds.sort();
        assert_eq!(kinds, ["a FIFO", "a directory"]);
    }

    #[test]
    fn walk_root_stops_at_first_glob_component() {
        assert_eq!(
            walk_root("/var/log/app/*.log"),
            (PathBuf::from("/var/log/app"), 1)
        );
        assert_eq!(
            walk_root("/var/log/**/x.log"),
            (PathBuf::from("/var/log"), usize::MAX)
        );
        assert_eq!(walk_root("/srv/*/logs/*.log"), (PathBuf::from("/srv"), 3));
        assert_eq!(
            walk_root("/var/log/syslog"),
            (PathBuf::from("/var/log/syslog"), 0)
        );
        assert_eq!(literal_root("/var/log/syslog"), PathBuf::from("/var/log"));
        assert_eq!(literal_root("/var/log/*.log"), PathBuf::from("/var/log"));
    }
}
