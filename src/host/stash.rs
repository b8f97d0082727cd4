//! Where a host-metrics flow keeps, across a stop, the records it could not ship:
//! `<state_dir>/spool/<flow>/host_metrics.jsonl`, one `<unix seconds taken> <record>` per line,
//! written whole (temporary file, then rename) and read back, then removed, at the next start.

use super::held::Record;
use bytes::Bytes;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub struct Stash {
    path: PathBuf,
}

impl Stash {
    pub fn in_dir(dir: &Path) -> Stash {
        Stash {
            path: dir.join("host_metrics.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the stash with `records` (none: removes it).
    pub fn save<'a>(&self, records: impl Iterator<Item = &'a Record>) -> io::Result<usize> {
        let mut text = Vec::new();
        let mut count = 0;
        for record in records {
            let secs = record
                .taken
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            write!(text, "{secs} ")?;
            text.extend_from_slice(&record.data);
            text.push(b'\n');
            count += 1;
        }
        if count == 0 {
            return self.remove().map(|()| 0);
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = self.path.with_extension("jsonl.tmp");
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(count)
    }

    /// The stashed records, oldest first (none if there is no stash); malformed lines, from
    /// an interrupted or foreign write, are skipped and counted.
    pub fn load(&self) -> io::Result<(Vec<Record>, usize)> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let (mut records, mut malformed) = (Vec::new(), 0);
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match parse_line(line) {
                Some(record) => records.push(record),
                None => malformed += 1,
            }
        }
        Ok((records, malformed))
    }

    pub fn remove(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn parse_line(line: &[u8]) -> Option<Record> {
    let space = memchr::memchr(b' ', line)?;
    let secs: u64 = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
    let data = &line[space + 1..];
    (data.first() == Some(&b'{')).then(|| Record {
        taken: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        data: Bytes::copy_from_slice(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_records_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stash = Stash::in_dir(&dir.path().join("spool/flow"));
        assert_eq!(stash.load().expect("no stash").0, Vec::new());
        let records: Vec<Record> = (1..=3)
            .map(|s| Record {
                taken: SystemTime::UNIX_EPOCH + Duration::from_secs(s),
                data: Bytes::from(format!("{{\"n\":{s}}}")),
            })
            .collect();
        assert_eq!(stash.save(records.iter()).expect("saved"), 3);
        let mut text = std::fs::read(stash.path()).expect("written");
        text.extend_from_slice(b"garbage\n");
        std::fs::write(stash.path(), text).expect("appended");
        assert_eq!(stash.load().expect("loads"), (records, 1));
        assert_eq!(stash.save([].iter()).expect("emptied"), 0);
        assert!(!stash.path().exists());
    }
}
