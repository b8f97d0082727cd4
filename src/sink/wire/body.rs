//! Request bodies as the wire sends them. SigV4 signs the body's SHA-256, which must be in the
//! headers before the first byte of the body goes out. A JSON body, and a small CBOR one, is
//! written once into one buffer and hashed. A large CBOR body (packed lines and KPL, about
//! 1 MiB) is written twice in frames of about [`FRAME_BYTES`], once through SHA-256 and once
//! into the socket, so that only the frames hyper has queued are in memory instead of the
//! whole body (hyper polls the next frame while its write buffer has room, about 400 KiB: on a
//! fast link one or two frames, on a slow one up to that). The second pass of a CBOR body is a
//! copy of the data; a JSON body's is base64 again, which cost `kpl` 5.5% and `lines` 10% more
//! CPU per byte in the side-by-side bench for 1.9 and 1.0 MB less peak RSS, so JSON bodies
//! stay whole (README, Memory).

use crate::aggregate::Entry;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Bodies estimated above this are written in frames.
const FRAMED_ABOVE: usize = 256 * 1024;
/// A frame ends after the record that takes it past this size.
const FRAME_BYTES: usize = 64 * 1024;
/// A body's bytes around its records, besides the stream name, at most.
const OPEN_AND_CLOSE: usize = 64;

/// Whether a body of about `capacity` bytes is written in frames.
fn framed(shape: Shape, capacity: usize) -> bool {
    shape == Shape::PutRecordsCbor && capacity > FRAMED_ABOVE
}

/// The three request bodies that carry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Kinesis `PutRecords` in `awsJson1.1`.
    PutRecords,
    /// Kinesis `PutRecords` in CBOR.
    PutRecordsCbor,
    /// Firehose `PutRecordBatch` in `awsJson1.1`.
    PutRecordBatch,
}

impl Shape {
    fn capacity(self, entries: &[&Entry], stream: &str) -> usize {
        let records: usize = entries.iter().map(|e| self.record_capacity(e)).sum();
        records + OPEN_AND_CLOSE + stream.len()
    }

    fn record_capacity(self, entry: &Entry) -> usize {
        match self {
            Shape::PutRecordsCbor => super::cbor::record_capacity(entry),
            _ => super::encode::record_capacity(entry),
        }
    }

    /// The whole body, into `out` (reserved by the caller).
    fn whole(self, stream: &str, entries: &[&Entry], out: &mut Vec<u8>) {
        match self {
            Shape::PutRecords => super::encode::put_records(stream, entries, out),
            Shape::PutRecordsCbor => super::cbor::put_records(stream, entries, out),
            Shape::PutRecordBatch => super::encode::put_record_batch(stream, entries, out),
        }
    }

    fn open(self, stream: &str, count: usize, out: &mut Vec<u8>) {
        match self {
            Shape::PutRecords => super::encode::put_records_open(out),
            Shape::PutRecordsCbor => super::cbor::put_records_open(count, out),
            Shape::PutRecordBatch => super::encode::put_record_batch_open(stream, out),
        }
    }

    fn record(self, first: bool, entry: &Entry, out: &mut Vec<u8>) {
        match self {
            Shape::PutRecords => super::encode::put_records_record(first, entry, out),
            Shape::PutRecordsCbor => super::cbor::put_records_record(entry, out),
            Shape::PutRecordBatch => super::encode::put_record_batch_record(first, entry, out),
        }
    }

    fn close(self, stream: &str, out: &mut Vec<u8>) {
        match self {
            Shape::PutRecords => super::encode::put_records_close(stream, out),
            Shape::PutRecordsCbor => super::cbor::put_records_close(stream, out),
            Shape::PutRecordBatch => super::encode::put_record_batch_close(out),
        }
    }
}

/// A body written frame by frame from its own copy of the entries (their data are shared
/// `Bytes`, not copied).
#[derive(Debug)]
struct Frames {
    shape: Shape,
    stream: String,
    entries: Vec<Entry>,
    next: usize,
    done: bool,
}

impl Frames {
    /// Writes the next frame into `out` (cleared first); false once the body is complete.
    fn next_into(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return false;
        }
        let (end, capacity) = self.next_frame();
        out.clear();
        out.reserve(capacity);
        if self.next == 0 {
            self.shape.open(&self.stream, self.entries.len(), out);
        }
        for i in self.next..end {
            self.shape.record(i == 0, &self.entries[i], out);
        }
        self.next = end;
        if end == self.entries.len() {
            self.shape.close(&self.stream, out);
            self.done = true;
        }
        true
    }

    /// Where the next frame ends and the bytes it takes at most, so that it is allocated once.
    fn next_frame(&self) -> (usize, usize) {
        let (mut end, mut capacity) = (self.next, OPEN_AND_CLOSE + self.stream.len());
        while end < self.entries.len() && capacity < FRAME_BYTES {
            capacity += self.shape.record_capacity(&self.entries[end]);
            end += 1;
        }
        (end, capacity)
    }
}

#[derive(Debug)]
enum Content {
    Whole(Option<Bytes>),
    Framed(Frames),
}

/// A request body with the SHA-256 it is signed with; an [`http_body::Body`] of exact length.
#[derive(Debug)]
pub struct Body {
    sha256_hex: String,
    len: u64,
    remaining: u64,
    content: Content,
}

impl Body {
    /// The body of one request carrying `entries` to `stream`.
    pub fn new(shape: Shape, stream: &str, entries: &[&Entry]) -> Body {
        let capacity = shape.capacity(entries, stream);
        if !framed(shape, capacity) {
            let mut out = Vec::with_capacity(capacity);
            shape.whole(stream, entries, &mut out);
            return Body::whole(out);
        }
        let mut frames = Frames {
            shape,
            stream: stream.to_owned(),
            entries: entries.iter().map(|&e| e.clone()).collect(),
            next: 0,
            done: false,
        };
        let (mut hash, mut len, mut frame) = (Sha256::new(), 0, Vec::new());
        while frames.next_into(&mut frame) {
            hash.update(&frame);
            len += frame.len() as u64;
        }
        (frames.next, frames.done) = (0, false);
        Body::with_hash(hash, len, Content::Framed(frames))
    }

    /// A body written already (DescribeStreamSummary, tests).
    pub fn whole(bytes: Vec<u8>) -> Body {
        let hash = Sha256::new_with_prefix(&bytes);
        let len = bytes.len() as u64;
        Body::with_hash(hash, len, Content::Whole(Some(Bytes::from(bytes))))
    }

    fn with_hash(hash: Sha256, len: u64, content: Content) -> Body {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = hash.finalize();
        let hex = digest
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        let sha256_hex = hex.map(char::from).collect();
        Body {
            sha256_hex,
            len,
            remaining: len,
            content,
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its SHA-256 in lowercase hex, as SigV4 signs it.
    pub fn sha256_hex(&self) -> &str {
        &self.sha256_hex
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let next = match &mut this.content {
            Content::Whole(bytes) => bytes.take(),
            Content::Framed(frames) => {
                let mut out = Vec::new();
                frames.next_into(&mut out).then(|| Bytes::from(out))
            }
        };
        if let Some(bytes) = &next {
            this.remaining -= bytes.len() as u64;
        }
        Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    fn written(mut body: Body) -> Vec<u8> {
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) =
            Pin::new(&mut body).poll_frame(&mut Context::from_waker(std::task::Waker::noop()))
        {
            out.extend_from_slice(frame.unwrap().data_ref().unwrap());
        }
        assert!(body.is_end_stream());
        out
    }

    fn entries(sizes: &[usize]) -> Vec<Entry> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                Entry::new(vec![i as u8; size], format!("key \"{i}\""))
                    .with_explicit_hash_key((i % 2 == 1).then(|| format!("{i}")))
            })
            .collect()
    }

    /// Framed or whole, a body is the same bytes as the one-buffer encoders write, and its
    /// length and hash are those of those bytes.
    #[test]
    fn framed_bodies_are_the_bytes_of_the_whole_encoding() {
        let cases: [&[usize]; 5] = [
            &[],
            &[10, 0, 200],
            &[300_000],
            &[50_000; 21],
            &[1, 70_000, 3, 200_000, 5],
        ];
        for sizes in cases {
            let owned = entries(sizes);
            let refs: Vec<&Entry> = owned.iter().collect();
            for shape in [
                Shape::PutRecords,
                Shape::PutRecordsCbor,
                Shape::PutRecordBatch,
            ] {
                let mut expected = Vec::new();
                shape.whole("s", &refs, &mut expected);
                let body = Body::new(shape, "s", &refs);
                let framed = matches!(body.content, Content::Framed(_));
                let estimate = shape.capacity(&refs, "s");
                assert_eq!(
                    framed,
                    super::framed(shape, estimate),
                    "{shape:?} {sizes:?}"
                );
                assert!(estimate >= expected.len());
                assert_eq!(body.len(), expected.len() as u64);
                assert_eq!(body.size_hint().exact(), Some(expected.len() as u64));
                assert_eq!(
                    body.sha256_hex(),
                    Body::whole(expected.clone()).sha256_hex()
                );
                assert!(written(body) == expected, "{shape:?} {sizes:?}");
            }
        }
    }

    #[test]
    fn frames_stay_near_their_size_and_the_hash_is_sha256() {
        let owned = entries(&[50_000; 21]);
        let refs: Vec<&Entry> = owned.iter().collect();
        let mut body = Body::new(Shape::PutRecordsCbor, "s", &refs);
        let waker = std::task::Waker::noop();
        let mut sizes = Vec::new();
        while let Poll::Ready(Some(frame)) =
            Pin::new(&mut body).poll_frame(&mut Context::from_waker(waker))
        {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert!(sizes.len() > 5, "{sizes:?}");
        assert!(sizes.iter().all(|&n| n < FRAME_BYTES + 70_000), "{sizes:?}");
        assert_eq!(
            Body::whole(b"{}".to_vec()).sha256_hex(),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(Body::whole(b"{}".to_vec()).collect())
            .unwrap();
        assert_eq!(&collected.to_bytes()[..], b"{}");
    }
}
