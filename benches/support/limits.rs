//! The per-byte cost, on one core of the machine the bench runs on, of the work no shipper can
//! skip, with the crates edgeship links: find the newlines, copy, base64 (JSON bodies), SHA-256
//! of the body (SigV4 signs it), AES-256-GCM (TLS), MD5 (the KPL trailer). Measured in the same
//! run as the shipping, so a fraction of the limit compares like with like.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::Digest as _;
use std::time::Instant;

/// Nanoseconds per input byte.
pub struct Limits {
    pub newline: f64,
    pub memcpy: f64,
    pub base64: f64,
    /// Over the base64 text of one input byte (4/3 bytes).
    pub sha256_of_base64: f64,
    pub sha256: f64,
    /// TLS over the base64 text.
    pub aes_gcm_of_base64: f64,
    pub aes_gcm: f64,
    pub md5: f64,
}

impl Limits {
    /// One record per line or packed lines, JSON: split, copy, base64, hash and encrypt it.
    pub fn json(&self) -> f64 {
        self.newline + self.memcpy + self.base64 + self.sha256_of_base64 + self.aes_gcm_of_base64
    }

    /// The same in CBOR: no base64, hash and encrypt the raw bytes.
    pub fn cbor(&self) -> f64 {
        self.newline + self.memcpy + self.sha256 + self.aes_gcm
    }

    /// KPL adds the MD5 trailer of every aggregate.
    pub fn kpl(&self, cbor: bool) -> f64 {
        self.md5 + if cbor { self.cbor() } else { self.json() }
    }

    pub fn measure(sample: &[u8]) -> Limits {
        let b64 = base64_simd::STANDARD.encode_to_string(sample);
        // Totals for the whole sample; `per_byte` divides them by its length.
        Limits {
            newline: time(|| memchr::memchr_iter(b'\n', sample).count() as u64),
            memcpy: time(|| in_chunks(sample, |chunk, out| out.extend_from_slice(chunk))),
            base64: time(|| {
                in_chunks(sample, |chunk, out| {
                    base64_simd::STANDARD.encode_append(chunk, out)
                })
            }),
            sha256_of_base64: time(|| sha2::Sha256::digest(b64.as_bytes())[0] as u64),
            sha256: time(|| sha2::Sha256::digest(sample)[0] as u64),
            aes_gcm_of_base64: time(|| seal(b64.as_bytes())),
            aes_gcm: time(|| seal(sample)),
            md5: time(|| <md5::Md5 as md5::Digest>::digest(sample)[0] as u64),
        }
        .per_byte(sample.len())
    }

    fn per_byte(mut self, len: usize) -> Limits {
        for value in [
            &mut self.newline,
            &mut self.memcpy,
            &mut self.base64,
            &mut self.sha256_of_base64,
            &mut self.sha256,
            &mut self.aes_gcm_of_base64,
            &mut self.aes_gcm,
            &mut self.md5,
        ] {
            *value /= len as f64;
        }
        self
    }

    pub fn print(&self) {
        println!("\nper-byte limits on one core, ns per input byte (this run):");
        println!(
            "newline {:.3}, memcpy {:.3}, base64 {:.3}, SHA-256 of base64 {:.3}, AES-256-GCM of base64 {:.3}, MD5 {:.3}",
            self.newline,
            self.memcpy,
            self.base64,
            self.sha256_of_base64,
            self.aes_gcm_of_base64,
            self.md5
        );
        println!(
            "limit: JSON {:.2} ns/B ({:.0} MB/s), CBOR {:.2} ns/B ({:.0} MB/s), KPL JSON {:.2} ns/B ({:.0} MB/s)",
            self.json(),
            1000.0 / self.json(),
            self.cbor(),
            1000.0 / self.cbor(),
            self.kpl(false),
            1000.0 / self.kpl(false)
        );
    }
}

/// Best of five runs of `work` over the sample, in nanoseconds for the whole sample.
fn time(mut work: impl FnMut() -> u64) -> f64 {
    let mut best = f64::MAX;
    let mut sink = 0u64;
    for _ in 0..5 {
        let start = Instant::now();
        sink = sink.wrapping_add(work());
        best = best.min(start.elapsed().as_nanos() as f64);
    }
    std::hint::black_box(sink);
    best
}

/// Runs `work` on 1 MiB pieces into one reused buffer (as the agent's buffers are reused), so
/// that page faults of fresh memory are not counted as the work.
fn in_chunks(data: &[u8], mut work: impl FnMut(&[u8], &mut Vec<u8>)) -> u64 {
    let mut out = Vec::with_capacity(2 << 20);
    let mut sink = 0u64;
    for chunk in data.chunks(1 << 20) {
        out.clear();
        work(chunk, &mut out);
        sink += out[out.len() / 2] as u64;
    }
    sink
}

/// Encrypts `data` in 16 KiB TLS-sized records.
fn seal(data: &[u8]) -> u64 {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let mut total = 0u64;
    let mut record = Vec::with_capacity(16 * 1024 + 16);
    for chunk in data.chunks(16 * 1024) {
        record.clear();
        record.extend_from_slice(chunk);
        let nonce = Nonce::assume_unique_for_key([0; 12]);
        key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record)
            .unwrap();
        total += record[0] as u64;
    }
    total
}
