//! The spool: `<state_dir>/spool/<flow>/`, where the unacknowledged rest of a *deleted* file
//! goes when edgeship stops while still holding it open. Such a file exists only through that
//! handle (logrotate deleted it during an outage), so without the spool a restart or reboot
//! would lose it.
//!
//! A segment is two files: `<id>.gz`, the original bytes `from..to` gzip-compressed, and
//! `<id>.json`, what they are ([`Segment`]), written last: a segment without its record is an
//! interrupted write and is removed. After the restart the tailer reads a segment like a
//! rotated file under a key of its own ([`Segment::key`], so a new file reusing the deleted
//! file's inode cannot be confused with it), in the original file's offsets, before newer
//! lines of the same log; the segment is deleted once its end is durably acknowledged.

use super::source::Source;
use super::{FileKey, Fingerprint};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The `dev` of spool segment keys: no real device has it.
pub const SPOOL_DEV: u64 = u64::MAX;
const VERSION: u32 = 1;
const BLOCK: usize = 256 * 1024;

/// What a segment holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub version: u32,
    pub id: u64,
    /// The deleted file: its path, identity and head fingerprint when it was spooled.
    pub path: PathBuf,
    pub dev: u64,
    pub inode: u64,
    pub head: Option<Fingerprint>,
    /// The original file's bytes `from..to` are in the segment.
    pub from: u64,
    pub to: u64,
}

impl Segment {
    /// The key the segment is read and checkpointed under.
    pub fn key(&self) -> FileKey {
        FileKey {
            dev: SPOOL_DEV,
            inode: self.id,
        }
    }

    /// The deleted file's key.
    pub fn original(&self) -> FileKey {
        FileKey {
            dev: self.dev,
            inode: self.inode,
        }
    }
}

/// What [`Spool::write`] stored.
#[derive(Debug)]
pub struct Stored {
    pub segment: Segment,
    /// Compressed bytes on disk.
    pub bytes: u64,
    /// The whole rest did not fit: the segment ends at a line boundary before the file's end.
    pub cut: bool,
}

pub struct Spool {
    dir: PathBuf,
    pub max_bytes: u64,
}

impl Spool {
    pub fn new(state_dir: &Path, flow: &str, max_bytes: u64) -> Spool {
        let name: String = flow
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Spool {
            dir: state_dir.join("spool").join(name),
            max_bytes,
        }
    }

    /// `<state_dir>/spool/<flow>/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Complete segments, oldest first; interrupted writes are removed.
    pub fn segments(&self) -> Vec<Segment> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut segments = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
            } else if let Some(id) = name.strip_suffix(".gz").and_then(|n| n.parse().ok()) {
                match self.load(id) {
                    Some(segment) => segments.push(segment),
                    None => self.remove(id),
                }
            }
        }
        segments.sort_by_key(|s| s.id);
        segments
    }

    fn load(&self, id: u64) -> Option<Segment> {
        let text = fs::read(self.record_path(id)).ok()?;
        serde_json::from_slice::<Segment>(&text)
            .ok()
            .filter(|s| s.version == VERSION && s.id == id)
    }

    /// Compressed bytes held now.
    pub fn used_bytes(&self) -> u64 {
        fs::read_dir(&self.dir).map_or(0, |entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
    }

    pub fn open(&self, segment: &Segment) -> io::Result<Source> {
        Ok(Source::spooled(
            File::open(self.data_path(segment.id))?,
            segment.from,
        ))
    }

    pub fn remove(&self, id: u64) {
        let _ = fs::remove_file(self.record_path(id));
        let _ = fs::remove_file(self.data_path(id));
    }

    /// Copies `source` from `from` to its end into a new segment, compressed, stopping at a line
    /// boundary once `budget` compressed bytes are used (it may pass the budget by one block).
    /// `None` if the budget is zero.
    pub fn write(
        &self,
        source: &mut Source,
        original: (FileKey, &Path, Option<Fingerprint>),
        from: u64,
        budget: u64,
    ) -> io::Result<Option<Stored>> {
        if budget == 0 {
            return Ok(None);
        }
        fs::create_dir_all(&self.dir)?;
        let id = self.next_id();
        let tmp = self.dir.join(format!("{id}.gz.tmp"));
        let mut encoder = GzEncoder::new(Counting::new(File::create(&tmp)?), Compression::fast());
        let (to, cut) = copy_lines(source, from, &mut encoder, budget)?;
        let counting = encoder.finish()?;
        counting.file.sync_all()?;
        fs::rename(&tmp, self.data_path(id))?;
        let segment = self.write_record(id, original, from..to)?;
        Ok(Some(Stored {
            segment,
            bytes: counting.count,
            cut,
        }))
    }

    /// Records that the rest of a file from `at` was given up (and reported lost) at a stop: an
    /// empty segment, so that the restart retires the file's checkpoint instead of reporting the
    /// file gone a second time. Written whatever the budget (a few hundred bytes).
    pub fn write_tombstone(
        &self,
        original: (FileKey, &Path, Option<Fingerprint>),
        at: u64,
    ) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let id = self.next_id();
        File::create(self.data_path(id))?.sync_all()?;
        self.write_record(id, original, at..at).map(|_| ())
    }

    fn write_record(
        &self,
        id: u64,
        (key, path, head): (FileKey, &Path, Option<Fingerprint>),
        range: std::ops::Range<u64>,
    ) -> io::Result<Segment> {
        let segment = Segment {
            version: VERSION,
            id,
            path: path.to_owned(),
            dev: key.dev,
            inode: key.inode,
            head,
            from: range.start,
            to: range.end,
        };
        let record_tmp = self.dir.join(format!("{id}.json.tmp"));
        fs::write(
            &record_tmp,
            serde_json::to_vec(&segment).map_err(io::Error::other)?,
        )?;
        File::open(&record_tmp)?.sync_all()?;
        fs::rename(&record_tmp, self.record_path(id))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(segment)
    }

    fn next_id(&self) -> u64 {
        let highest = fs::read_dir(&self.dir).ok().and_then(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.split('.').next()?.parse::<u64>().ok()
                })
                .max()
        });
        highest.map_or(1, |h| h + 1)
    }

    fn data_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.gz"))
    }

    fn record_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

/// Copies whole lines (and a final partial one) from `from` until the end or until `budget`
/// compressed bytes are written; returns the offset reached and whether it stopped early.
fn copy_lines(
    source: &mut Source,
    from: u64,
    encoder: &mut GzEncoder<Counting>,
    budget: u64,
) -> io::Result<(u64, bool)> {
    source.seek_to(from)?;
    let mut at = from;
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            encoder.write_all(&carry)?;
            return Ok((at + carry.len() as u64, false));
        }
        carry.extend_from_slice(&buf[..n]);
        let Some(last_newline) = memchr::memrchr(b'\n', &carry) else {
            continue;
        };
        if encoder.get_ref().count >= budget {
            return Ok((at, true));
        }
        let whole: Vec<u8> = carry.drain(..=last_newline).collect();
        encoder.write_all(&whole)?;
        at += whole.len() as u64;
    }
}

/// Counts the compressed bytes written.
struct Counting {
    file: File,
    count: u64,
}

impl Counting {
    fn new(file: File) -> Counting {
        Counting { file, count: 0 }
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(content: &[u8]) -> (tempfile::NamedTempFile, Source) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(content).unwrap();
        let source = Source::new(File::open(tmp.path()).unwrap(), tmp.path());
        (tmp, source)
    }

    fn read_from(source: &mut Source, offset: u64) -> Vec<u8> {
        source.seek_to(offset).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 100];
        loop {
            match source.read(&mut buf).unwrap() {
                0 => return out,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    const KEY: FileKey = FileKey { dev: 8, inode: 42 };

    #[test]
    fn a_segment_holds_the_rest_in_the_original_offsets() {
        let state = tempfile::tempdir().unwrap();
        let spool = Spool::new(state.path(), "web logs", 64 << 20);
        let (_file, mut source) = plain(b"one\ntwo\nthree\npartial");
        let head = Some(Fingerprint::of(b"x"));
        let stored = spool
            .write(
                &mut source,
                (KEY, Path::new("/var/log/app.log"), head),
                4,
                1 << 20,
            )
            .unwrap()
            .unwrap();
        assert!(!stored.cut);
        assert_eq!((stored.segment.from, stored.segment.to), (4, 21));
        let segments = spool.segments();
        assert_eq!(segments, vec![stored.segment.clone()]);
        assert_eq!(segments[0].original(), KEY);
        assert_eq!(segments[0].key().dev, SPOOL_DEV);
        let mut spooled = spool.open(&segments[0]).unwrap();
        assert!(spooled.is_spooled());
        assert_eq!(read_from(&mut spooled, 4), b"two\nthree\npartial");
        assert_eq!(read_from(&mut spooled, 8), b"three\npartial");
        spool.remove(segments[0].id);
        assert!(spool.segments().is_empty());
    }

    #[test]
    fn a_full_spool_cuts_at_a_line_boundary() {
        let state = tempfile::tempdir().unwrap();
        let spool = Spool::new(state.path(), "f", 16 << 20);
        let mut content = Vec::new();
        for n in 0..200_000u32 {
            content
                .extend_from_slice(format!("{n:08x} {}\n", n.wrapping_mul(2654435761)).as_bytes());
        }
        let (_file, mut source) = plain(&content);
        let stored = spool
            .write(&mut source, (KEY, Path::new("/l"), None), 0, 1000)
            .unwrap()
            .unwrap();
        assert!(stored.cut);
        let to = stored.segment.to as usize;
        assert!(to < content.len() && content[to - 1] == b'\n');
        let mut spooled = spool.open(&stored.segment).unwrap();
        assert_eq!(read_from(&mut spooled, 0), &content[..to]);
        assert!(
            spool
                .write(&mut source, (KEY, Path::new("/l"), None), 0, 0)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn interrupted_writes_are_removed_and_ids_keep_growing() {
        let state = tempfile::tempdir().unwrap();
        let spool = Spool::new(state.path(), "f", 16 << 20);
        let (_file, mut source) = plain(b"a\n");
        let first = spool
            .write(&mut source, (KEY, Path::new("/l"), None), 0, 100)
            .unwrap()
            .unwrap();
        fs::write(spool.dir.join("7.gz"), b"no record").unwrap();
        fs::write(spool.dir.join("8.gz.tmp"), b"half").unwrap();
        assert_eq!(spool.segments(), vec![first.segment]);
        assert!(!spool.dir.join("7.gz").exists() && !spool.dir.join("8.gz.tmp").exists());
        let second = spool
            .write(&mut source, (KEY, Path::new("/l"), None), 0, 100)
            .unwrap()
            .unwrap();
        assert_eq!(second.segment.id, 2);
    }
}
