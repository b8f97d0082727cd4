//! Record compression: each sealed record (a packed `lines` record, a KPL aggregate, a Firehose
//! record) becomes one self-contained gzip member or zstd frame. Concatenated members (gzip) and
//! frames (zstd) are themselves valid `.gz` / `.zst` streams, so the objects Firehose writes to
//! S3 from such records decompress with the standard tools.
//!
//! The compressor keeps its state between records: a deflate state is a few hundred KiB, and
//! allocating it per record would cost more than compressing a small one.

use crate::config::Compression;
use std::io::Read;

pub use crate::kinesis::limits::COMPRESSION_MARGIN_BYTES;

/// Largest record `edgeship consume` inflates: a record is at most 1 MiB compressed, and logs
/// compress well below 64×; anything beyond is not one of ours.
const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// RFC 1952 member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Compresses records with one codec, reusing its state.
pub struct Compressor {
    codec: Codec,
}

enum Codec {
    None,
    Gzip(Box<flate2::Compress>),
    Zstd,
}

impl Compressor {
    pub fn new(compression: Compression) -> Compressor {
        let codec = match compression {
            Compression::None => Codec::None,
            Compression::Gzip { level } => Codec::Gzip(Box::new(flate2::Compress::new(
                flate2::Compression::new(level),
                false,
            ))),
            Compression::Zstd => Codec::Zstd,
        };
        Compressor { codec }
    }

    pub fn is_active(&self) -> bool {
        !matches!(self.codec, Codec::None)
    }

    /// The record as sent: `data` itself when compression is off.
    pub fn compress(&mut self, data: bytes::Bytes) -> bytes::Bytes {
        match &mut self.codec {
            Codec::None => data,
            Codec::Gzip(deflate) => gzip_member(deflate, &data).into(),
            Codec::Zstd => {
                let mut out = Vec::with_capacity(data.len() / 4 + 64);
                ruzstd::encoding::compress(
                    &data[..],
                    &mut out,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                out.into()
            }
        }
    }
}

fn gzip_member(deflate: &mut flate2::Compress, data: &[u8]) -> Vec<u8> {
    deflate.reset();
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    loop {
        let consumed = deflate.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Finish)
            .expect("deflate into a growing buffer cannot fail");
        if status == flate2::Status::StreamEnd {
            break;
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The codec whose magic `data` starts with (gzip at its default level), if any.
pub fn detect(data: &[u8]) -> Compression {
    if data.starts_with(&GZIP_MAGIC) {
        Compression::gzip()
    } else if data.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Inflates a compressed record (any number of members or frames); `None` when `data` is not
/// compressed or does not decode (then it is shown as it is).
pub fn decompress(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = match detect(data) {
        Compression::None => return None,
        Compression::Gzip { .. } => flate2::read::MultiGzDecoder::new(data)
            .take(MAX_INFLATED_BYTES)
            .read_to_end(&mut out),
        Compression::Zstd => zstd_frames(data, &mut out),
    };
    read.ok().map(|_| out)
}

fn zstd_frames(mut data: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
    let start = out.len();
    while !data.is_empty() {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut data)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        let room = MAX_INFLATED_BYTES.saturating_sub((out.len() - start) as u64);
        decoder.take(room).read_to_end(out)?;
    }
    Ok(out.len() - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_lines(count: usize) -> Vec<u8> {
        (0..count)
            .flat_map(|n| {
                format!("10.0.{}.{} - - [01/Dec/2026:00:00:{:02} +0000] \"GET /item/{n} HTTP/1.1\" 200 {}\n", n % 7, n % 250, n % 60, n * 37 % 9000)
                    .into_bytes()
            })
            .collect()
    }

    #[test]
    fn records_round_trip_through_each_codec() {
        for compression in [Compression::gzip(), Compression::Zstd] {
            let mut compressor = Compressor::new(compression);
            for data in [log_lines(1), log_lines(500), Vec::new(), log_lines(3)] {
                let packed = compressor.compress(data.clone().into()).to_vec();
                assert_eq!(detect(&packed).name(), compression.name());
                assert_eq!(decompress(&packed), Some(data), "{compression:?}");
            }
        }
    }

    #[test]
    fn concatenated_records_decompress_as_one_stream() {
        for compression in [
            Compression::gzip(),
            Compression::Gzip { level: 9 },
            Compression::Zstd,
        ] {
            let mut compressor = Compressor::new(compression);
            let mut joined = compressor.compress(log_lines(10).into()).to_vec();
            joined.extend(compressor.compress(log_lines(20).into()).to_vec());
            let mut both = log_lines(10);
            both.extend(log_lines(20));
            assert_eq!(decompress(&joined), Some(both), "{compression:?}");
        }
    }

    #[test]
    fn gzip_members_are_read_by_flate2s_own_decoder() {
        let data = log_lines(200);
        let packed = Compressor::new(Compression::gzip())
            .compress(data.clone().into())
            .to_vec();
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, data);
    }

    #[test]
    fn incompressible_records_stay_within_the_margin() {
        let noise: Vec<u8> = (0..1024 * 1024).map(|_| fastrand::u8(..)).collect();
        for compression in [
            Compression::gzip(),
            Compression::Gzip { level: 9 },
            Compression::Zstd,
        ] {
            let packed = Compressor::new(compression)
                .compress(noise.clone().into())
                .to_vec();
            assert!(
                packed.len() <= noise.len() + COMPRESSION_MARGIN_BYTES,
                "{compression:?}: {} bytes from {}",
                packed.len(),
                noise.len()
            );
        }
    }

    #[test]
    fn plain_records_pass_through() {
        let mut compressor = Compressor::new(Compression::None);
        assert!(!compressor.is_active());
        assert_eq!(
            compressor.compress(b"line\n".to_vec().into()).to_vec(),
            b"line\n"
        );
        assert_eq!(decompress(b"line\n"), None);
    }
}
