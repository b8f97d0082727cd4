//! The bytes of one open file: read as they are, or decompressed when the file is gzip (a
//! compressed rotation such as `app.log.2.gz`). Offsets of a compressed file are offsets in its
//! *decompressed* content, so checkpoints, fingerprints and marks mean the same for both.
//!
//! A `.gz` file that is still being written (gzip runs while we read) ends early; that is not an
//! error: the stream is reopened and the read position restored on the next attempt.

use super::fingerprint::ReadAt;
use flate2::bufread::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

pub enum Source {
    Plain(File),
    Gzip(Box<GzipStream>),
}

impl Source {
    /// Wraps an open file; `path` decides (with the gzip magic bytes) whether to decompress.
    pub fn new(file: File, path: &Path) -> Source {
        if is_gzip(&file, path) {
            Source::Gzip(Box::new(GzipStream::new(Arc::new(file))))
        } else {
            Source::Plain(file)
        }
    }

    pub fn file(&self) -> &File {
        match self {
            Source::Plain(file) => file,
            Source::Gzip(stream) => &stream.file,
        }
    }

    /// A spool segment (see [`super::spool`]): the gzip-compressed rest of a deleted file,
    /// whose first byte is the original file's byte `base`, so offsets stay the original's.
    pub fn spooled(file: File, base: u64) -> Source {
        let mut stream = GzipStream::new(Arc::new(file));
        stream.base = Some(base);
        Source::Gzip(Box::new(stream))
    }

    pub fn is_compressed(&self) -> bool {
        matches!(self, Source::Gzip(_))
    }

    /// Holds only part of the original file (no head to check: it is in the segment's record).
    pub fn is_spooled(&self) -> bool {
        matches!(self, Source::Gzip(stream) if stream.base.is_some())
    }

    /// Positions the next `read` at `offset`.
    pub fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        match self {
            Source::Plain(file) => file.seek(SeekFrom::Start(offset)).map(drop),
            Source::Gzip(stream) => {
                stream.restart();
                stream.skip = offset.saturating_sub(stream.base.unwrap_or(0));
                stream.ended_at_len = None;
                Ok(())
            }
        }
    }

    /// Reads the next bytes; `Ok(0)` at the end of the data available now.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(file) => loop {
                match file.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other,
                }
            },
            Source::Gzip(stream) => stream.read(buf),
        }
    }

    /// Appends up to `limit` bytes to `data`. A plain file reads straight into the spare
    /// capacity (std's `File` reads into uninitialised memory); the generic path would zero
    /// every 256 KiB read buffer first, which showed in profiles.
    pub fn read_to_end_limited(&mut self, data: &mut Vec<u8>, limit: u64) -> io::Result<usize> {
        use io::Read;
        match self {
            Source::Plain(file) => Read::take(&*file, limit).read_to_end(data),
            Source::Gzip(_) => self.take(limit).read_to_end(data),
        }
    }
}

impl io::Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Source::read(self, buf)
    }
}

impl ReadAt for Source {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(file) => file.read_at(offset, buf),
            Source::Gzip(stream) => {
                let base = stream.base.unwrap_or(0);
                if offset < base {
                    return Ok(0); // before a spool segment's first byte
                }
                // Rare (fingerprints, resume checks): decompress from the start on the side.
                let mut side = GzipStream::new(stream.file.clone());
                side.skip = offset - base;
                let mut filled = 0;
                while filled < buf.len() {
                    match side.read(&mut buf[filled..])? {
                        0 => break,
                        n => filled += n,
                    }
                }
                Ok(filled)
            }
        }
    }
}

/// Named `.gz` and starting with the gzip magic bytes, or too short to tell yet (gzip is still
/// writing it): reading it as text would ship compressed bytes.
fn is_gzip(file: &File, path: &Path) -> bool {
    let named_gz = path.extension().is_some_and(|e| e == "gz");
    let mut magic = [0u8; 2];
    named_gz && (file.read_exact_at(&mut magic, 0).is_err() || magic == [0x1f, 0x8b])
}

/// Reads a file through positioned reads, so several decoders can share one descriptor.
struct PositionedReader {
    file: Arc<File>,
    position: u64,
}

impl Read for PositionedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

pub struct GzipStream {
    file: Arc<File>,
    decoder: MultiGzDecoder<BufReader<PositionedReader>>,
    /// Decompressed offset of the next byte `decoder` yields.
    position: u64,
    /// Decompressed bytes still to be discarded before returning data (seeking forward).
    skip: u64,
    /// Compressed size when the data last ran out: only a change is worth decoding again.
    ended_at_len: Option<u64>,
    /// A spool segment: the original offset of the first decompressed byte.
    base: Option<u64>,
}

impl GzipStream {
    fn new(file: Arc<File>) -> GzipStream {
        GzipStream {
            decoder: Self::decoder(&file),
            file,
            position: 0,
            skip: 0,
            ended_at_len: None,
            base: None,
        }
    }

    fn decoder(file: &Arc<File>) -> MultiGzDecoder<BufReader<PositionedReader>> {
        MultiGzDecoder::new(BufReader::new(PositionedReader {
            file: file.clone(),
            position: 0,
        }))
    }

    /// Starts decoding from the beginning again, to come back to the current position.
    fn restart(&mut self) {
        self.skip += self.position;
        self.position = 0;
        self.decoder = Self::decoder(&self.file);
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(len) = self.ended_at_len {
            if self.file.metadata()?.len() == len {
                return Ok(0);
            }
            self.ended_at_len = None;
            self.restart();
        }
        while self.skip > 0 {
            let mut scratch = [0u8; 8192];
            let want = scratch.len().min(self.skip as usize);
            let n = self.decode(&mut scratch[..want])?;
            if n == 0 {
                return Ok(0);
            }
            self.skip -= n as u64;
        }
        self.decode(buf)
    }

    fn decode(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.decoder.read(buf) {
            Ok(0) => self.ended(),
            Ok(n) => {
                self.position += n as u64;
                Ok(n)
            }
            // The compressed file is still being written: try again from here once it grows.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.ended(),
            Err(e) => Err(e),
        }
    }

    fn ended(&mut self) -> io::Result<usize> {
        self.ended_at_len = Some(self.file.metadata()?.len());
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz_file(content: &[u8]) -> tempfile::TempPath {
        let mut tmp = tempfile::Builder::new().suffix(".gz").tempfile().unwrap();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(content).unwrap();
        tmp.write_all(&encoder.finish().unwrap()).unwrap();
        tmp.into_temp_path()
    }

    fn read_all(source: &mut Source) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match source.read(&mut buf).unwrap() {
                0 => return out,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn gzip_is_read_decompressed_and_seekable() {
        let path = gz_file(b"line one\nline two\n");
        let mut source = Source::new(File::open(&path).unwrap(), &path);
        assert!(source.is_compressed());
        assert_eq!(read_all(&mut source), b"line one\nline two\n");
        source.seek_to(9).unwrap();
        assert_eq!(read_all(&mut source), b"line two\n");
        let mut head = [0u8; 4];
        assert_eq!(source.read_at(5, &mut head).unwrap(), 4);
        assert_eq!(&head, b"one\n");
    }

    #[test]
    fn truncated_gzip_waits_instead_of_failing() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&b"abcdefghij\n".repeat(2000)).unwrap();
        let full = encoder.finish().unwrap();
        let mut tmp = tempfile::Builder::new().suffix(".gz").tempfile().unwrap();
        tmp.write_all(&full[..full.len() / 2]).unwrap();
        let mut source = Source::new(File::open(tmp.path()).unwrap(), tmp.path());
        let first = read_all(&mut source);
        assert!(first.len() < 22000);
        tmp.write_all(&full[full.len() / 2..]).unwrap();
        let rest = read_all(&mut source);
        assert_eq!([first, rest].concat(), b"abcdefghij\n".repeat(2000));
    }

    #[test]
    fn a_plain_file_named_gz_is_read_as_is() {
        let mut tmp = tempfile::Builder::new().suffix(".gz").tempfile().unwrap();
        tmp.write_all(b"not compressed\n").unwrap();
        let mut source = Source::new(File::open(tmp.path()).unwrap(), tmp.path());
        assert!(!source.is_compressed());
        assert_eq!(read_all(&mut source), b"not compressed\n");
    }
}
