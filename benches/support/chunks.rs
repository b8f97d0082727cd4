//! Lines as the tailer hands them on: chunks of about 256 KiB of one file, with line spans and
//! offsets, for benchmarks that drive a pipeline stage's own code.

use edgeship::tail::{Chunk, FileKey, FileRef, Line};
use std::sync::Arc;

const CHUNK_BYTES: usize = 256 * 1024;

/// `lines` (without terminators) as chunks of the file `path`.
pub fn chunks(path: &str, lines: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Vec<Chunk> {
    let file = Arc::new(FileRef {
        key: FileKey { dev: 1, inode: 1 },
        path: path.into(),
        head: None,
    });
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut rest = lines.into_iter().peekable();
    while rest.peek().is_some() {
        let (mut data, mut spans) = (Vec::with_capacity(CHUNK_BYTES + 1024), Vec::new());
        while let Some(line) = rest.next_if(|_| data.len() < CHUNK_BYTES) {
            let start = data.len();
            data.extend_from_slice(line.as_ref());
            spans.push(Line {
                start: start as u32,
                end: data.len() as u32,
                next_offset: offset + data.len() as u64 + 1,
            });
            data.push(b'\n');
        }
        let len = data.len() as u64;
        out.push(Chunk {
            file: file.clone(),
            mark: None,
            data: data.into(),
            lines: spans,
            start_offset: offset,
            end_offset: offset + len,
            released: false,
        });
        offset += len;
    }
    out
}
