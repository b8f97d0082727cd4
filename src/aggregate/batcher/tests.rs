use super::*;
use crate::config::{Aggregation, BatchLimits};
use crate::tail::{FileKey, Line};

fn limits(max_records: usize, max_request_bytes: u64, target: u64) -> BatchLimits {
    BatchLimits {
        max_age: std::time::Duration::from_secs(1),
        max_records,
        max_request_bytes,
        request_target_bytes: max_request_bytes,
        max_record_bytes: 1024 * 1024,
        record_target_bytes: target,
        compression: crate::config::Compression::None,
    }
}

fn file(path: &str) -> Arc<FileRef> {
    Arc::new(FileRef {
        head: None,
        key: FileKey {
            dev: 1,
            inode: path.len() as u64,
        },
        path: path.into(),
    })
}

/// A chunk of `count` lines of `len` bytes each, starting at file offset `start`.
fn chunk(file: &Arc<FileRef>, start: u64, count: usize, len: usize) -> Chunk {
    let mut data = Vec::new();
    let mut lines = Vec::new();
    for i in 0..count {
        let begin = data.len();
        data.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, len));
        lines.push(Line {
            start: begin as u32,
            end: data.len() as u32,
            next_offset: start + data.len() as u64 + 1,
        });
        data.push(b'\n');
    }
    let end_offset = start + data.len() as u64;
    Chunk {
        mark: None,
        file: file.clone(),
        data: data.into(),
        lines,
        start_offset: start,
        end_offset,
        released: false,
    }
}

fn offsets(batch: &Batch) -> Vec<u64> {
    batch.progress.iter().map(|p| p.offset).collect()
}

#[test]
fn none_mode_cuts_batches_at_the_record_count() {
    let f = file("/l/a.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 1 << 20),
        Aggregation::None,
        KeyPolicy::Random,
    );
    let mut out = Vec::new();
    batcher.push(&chunk(&f, 0, 1200, 9), Instant::now(), &mut out);
    batcher.flush(&mut out);
    assert_eq!(
        out.iter().map(|b| b.entries.len()).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert_eq!(out.iter().map(|b| b.seq).collect::<Vec<_>>(), [0, 1, 2]);
    // A batch covers exactly its own lines: 500 lines of 10 bytes each.
    assert_eq!(offsets(&out[0]), [5000]);
    assert_eq!(offsets(&out[1]), [10000]);
    assert_eq!(offsets(&out[2]), [12000]);
    assert!(
        out[0]
            .entries
            .iter()
            .all(|e| e.data.len() == 9 && e.partition_key.len() == 16)
    );
}

#[test]
fn requests_close_at_the_target_and_a_larger_record_goes_alone() {
    let f = file("/l/a.log");
    let mut limits = limits(500, 1 << 20, 1 << 20);
    limits.request_target_bytes = 10_000;
    let mut batcher = Batcher::new(limits, Aggregation::None, KeyPolicy::File);
    let mut out = Vec::new();
    // 8 bytes of key per record: 30 records of 1,000 + 8 bytes, then one of 50,000 + 8.
    batcher.push(&chunk(&f, 0, 30, 1000), Instant::now(), &mut out);
    batcher.push(&chunk(&f, 30_030, 1, 50_000), Instant::now(), &mut out);
    batcher.push(&chunk(&f, 80_031, 2, 1000), Instant::now(), &mut out);
    batcher.flush(&mut out);
    let sizes: Vec<(usize, u64)> = out
        .iter()
        .map(|b| {
            (
                b.entries.len(),
                b.entries.iter().map(Entry::billed_bytes).sum(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            (9, 9072),
            (9, 9072),
            (9, 9072),
            (3, 3024),
            (1, 50_008),
            (2, 2016)
        ]
    );
}

#[test]
fn a_packed_record_and_its_key_stay_within_the_target() {
    let f = file("/l/a.log");
    for (keys, key_len) in [
        (KeyPolicy::Random, 16),
        (KeyPolicy::File, 8),
        (KeyPolicy::None, 0),
    ] {
        let mut batcher = Batcher::new(limits(500, 1 << 20, 125_000), Aggregation::Lines, keys);
        let mut out = Vec::new();
        batcher.push(&chunk(&f, 0, 2000, 199), Instant::now(), &mut out);
        batcher.flush(&mut out);
        let entries: Vec<&Entry> = out.iter().flat_map(|b| &b.entries).collect();
        assert!(entries.iter().all(|e| e.billed_bytes() <= 125_000));
        assert!(entries.iter().all(|e| e.partition_key.len() == key_len));
        // Full records are five 25,000-byte PUT payload units, not six.
        assert_eq!(entries[0].data.len(), (125_000 - key_len) / 200 * 200);
    }
}

#[test]
fn request_bytes_limit_counts_data_and_partition_keys() {
    let f = file("/l/big.log");
    let mut batcher = Batcher::new(
        limits(500, 1 << 20, 1 << 20),
        Aggregation::None,
        KeyPolicy::File,
    );
    let mut out = Vec::new();
    batcher.push(&chunk(&f, 0, 25, 100 * 1024), Instant::now(), &mut out);
    batcher.flush(&mut out);
    for batch in &out {
        assert!(batch.bytes() <= 1 << 20, "{}", batch.bytes());
        assert!(
            batch
                .entries
                .iter()
                .all(|e| e.partition_key == "/l/big.log")
        );
    }
    assert_eq!(out.iter().map(|b| b.entries.len()).sum::<usize>(), 25);
    assert_eq!(out[0].entries.len(), 10);
}

#[test]
fn lines_mode_packs_newline_terminated_lines_up_to_the_target() {
    let f = file("/l/p.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 4096),
        Aggregation::Lines,
        KeyPolicy::None,
    );
    let mut out = Vec::new();
    let input = chunk(&f, 0, 1000, 99);
    batcher.push(&input, Instant::now(), &mut out);
    batcher.flush(&mut out);
    let records: Vec<&Entry> = out.iter().flat_map(|b| &b.entries).collect();
    assert!(
        records
            .iter()
            .all(|r| r.data.len() <= 4096 && r.data.ends_with(b"\n") && r.partition_key.is_empty())
    );
    assert_eq!(records.len(), 1000usize.div_ceil(40));
    let joined: Vec<u8> = records
        .iter()
        .flat_map(|r| r.data.iter().copied())
        .collect();
    assert_eq!(joined, input.data);
    assert_eq!(out.iter().map(|b| b.lines).sum::<u64>(), 1000);
}

#[test]
fn lines_still_in_an_open_record_are_not_claimed_by_an_emitted_batch() {
    let f = file("/l/o.log");
    // One record per batch, records of up to two 9-byte lines.
    let mut batcher = Batcher::new(limits(1, 5 << 20, 20), Aggregation::Lines, KeyPolicy::None);
    let mut out = Vec::new();
    batcher.push(&chunk(&f, 0, 5, 9), Instant::now(), &mut out);
    // Records sealed so far: [l0 l1], [l2 l3]; the first is in an emitted batch.
    assert_eq!(out.len(), 1);
    assert_eq!(offsets(&out[0]), [20]);
    batcher.flush(&mut out);
    assert_eq!(
        out.iter().map(offsets).collect::<Vec<_>>(),
        [vec![20], vec![40], vec![50]]
    );
}

#[test]
fn skipped_bytes_and_release_markers_ride_with_the_next_batch() {
    let f = file("/l/r.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 1 << 20),
        Aggregation::None,
        KeyPolicy::Random,
    );
    let mut out = Vec::new();
    let mut c = chunk(&f, 0, 2, 9);
    c.end_offset = 35; // 15 bytes of an over-long line skipped after the last line
    batcher.push(&c, Instant::now(), &mut out);
    batcher.push(
        &Chunk {
            mark: None,
            file: f.clone(),
            data: bytes::Bytes::new(),
            lines: Vec::new(),
            start_offset: 35,
            end_offset: 35,
            released: true,
        },
        Instant::now(),
        &mut out,
    );
    batcher.flush(&mut out);
    assert_eq!(out.len(), 1);
    let progress: Vec<_> = out[0]
        .progress
        .iter()
        .map(|p| (p.offset, p.released))
        .collect();
    assert_eq!(progress, [(35, true)]);
}

#[test]
fn a_marker_alone_still_produces_an_empty_batch_so_its_offset_is_checkpointed() {
    let f = file("/l/m.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 1 << 20),
        Aggregation::None,
        KeyPolicy::Random,
    );
    let mut out = Vec::new();
    batcher.push(
        &Chunk {
            mark: None,
            file: f.clone(),
            data: bytes::Bytes::new(),
            lines: Vec::new(),
            start_offset: 77,
            end_offset: 77,
            released: false,
        },
        Instant::now(),
        &mut out,
    );
    assert!(batcher.deadline().is_some());
    batcher.flush(&mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].entries.is_empty());
    assert_eq!(offsets(&out[0]), [77]);
}

#[test]
fn long_paths_are_clipped_to_a_valid_partition_key() {
    let long = format!("/{}", "é".repeat(200));
    let key = clip_key(&long);
    assert!(key.len() <= 256 && !key.is_empty());
    assert!(long.ends_with(key));
    assert_eq!(clip_key(""), "-");
}

fn user_records(batches: &[Batch]) -> Vec<(String, Vec<u8>)> {
    let mut users = Vec::new();
    for entry in batches.iter().flat_map(|b| &b.entries) {
        match crate::kinesis::kpl::decode(&entry.data) {
            Some(inner) => {
                for user in inner {
                    assert_eq!(
                        user.partition_key.as_str(),
                        entry.partition_key.as_str(),
                        "one key per aggregate"
                    );
                    users.push((user.partition_key, user.data));
                }
            }
            None => users.push((entry.partition_key.to_string(), entry.data.to_vec())),
        }
    }
    users
}

#[test]
fn kpl_aggregates_stay_within_the_target_and_decode_to_the_lines() {
    let f = file("/l/k.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 50_000),
        Aggregation::Kpl,
        KeyPolicy::Random,
    );
    let mut out = Vec::new();
    let input = chunk(&f, 0, 3000, 199);
    batcher.push(&input, Instant::now(), &mut out);
    batcher.flush(&mut out);
    let entries: Vec<&Entry> = out.iter().flat_map(|b| &b.entries).collect();
    assert!(
        entries.iter().all(|e| e.billed_bytes() <= 50_000),
        "exact size accounting"
    );
    assert!(
        entries.len() <= 3000 * 207 / 50_000 + 2,
        "{} aggregates",
        entries.len()
    );
    let keys: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.partition_key.as_str()).collect();
    assert_eq!(
        keys.len(),
        entries.len(),
        "a fresh random key per aggregate"
    );
    let users = user_records(&out);
    let expected: Vec<Vec<u8>> = input.lines.iter().map(|l| input.line(l).to_vec()).collect();
    assert_eq!(
        users.into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn kpl_with_file_keys_never_mixes_files_in_one_aggregate() {
    let (a, b) = (file("/l/a.log"), file("/l/bb.log"));
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 50_000),
        Aggregation::Kpl,
        KeyPolicy::File,
    );
    let mut out = Vec::new();
    batcher.push(&chunk(&a, 0, 10, 20), Instant::now(), &mut out);
    batcher.push(&chunk(&b, 0, 10, 20), Instant::now(), &mut out);
    batcher.flush(&mut out);
    let keys: Vec<&str> = out[0]
        .entries
        .iter()
        .map(|e| e.partition_key.as_str())
        .collect();
    assert_eq!(keys, ["/l/a.log", "/l/bb.log"]);
    assert_eq!(user_records(&out).len(), 20);
}

#[test]
fn a_lone_kpl_record_is_sent_unaggregated() {
    let f = file("/l/q.log");
    let mut batcher = Batcher::new(
        limits(500, 5 << 20, 50_000),
        Aggregation::Kpl,
        KeyPolicy::Random,
    );
    let mut out = Vec::new();
    batcher.push(&chunk(&f, 0, 1, 30), Instant::now(), &mut out);
    batcher.flush(&mut out);
    assert_eq!(out[0].entries[0].data, vec![b'a'; 30]);
}

fn compressed(limits: BatchLimits, compression: crate::config::Compression) -> BatchLimits {
    BatchLimits {
        compression,
        ..limits
    }
}

#[test]
fn compressed_records_inflate_to_the_packed_lines_and_count_both_sizes() {
    use crate::aggregate::compress::decompress;
    use crate::config::Compression;
    let f = file("/l/z.log");
    for (aggregation, compression) in [
        (Aggregation::Lines, Compression::gzip()),
        (Aggregation::Kpl, Compression::Zstd),
    ] {
        let mut batcher = Batcher::new(
            compressed(limits(500, 5 << 20, 40_000), compression),
            aggregation,
            KeyPolicy::File,
        );
        let mut out = Vec::new();
        batcher.push(&chunk(&f, 0, 2000, 99), Instant::now(), &mut out);
        batcher.flush(&mut out);
        let mut lines = 0;
        for batch in &out {
            assert!(batch.plain_bytes() > 5 * batch.bytes(), "{compression:?}");
            for entry in &batch.entries {
                let inflated = decompress(&entry.data).expect("every record is compressed");
                assert_eq!(entry.uncompressed_bytes, Some(inflated.len() as u64));
                assert!(inflated.len() <= 40_000);
                lines += match aggregation {
                    Aggregation::Kpl => kpl::decode(&inflated).unwrap().len(),
                    _ => inflated.iter().filter(|&&b| b == b'\n').count(),
                };
            }
        }
        assert_eq!(lines, 2000, "{compression:?}");
    }
}

#[test]
fn a_record_of_incompressible_data_stays_within_the_record_limit() {
    let f = file("/l/noise.log");
    let limits = compressed(
        limits(500, 5 << 20, 1 << 20),
        crate::config::Compression::gzip(),
    );
    let max_line = limits.max_line_bytes();
    let mut batcher = Batcher::new(limits, Aggregation::Lines, KeyPolicy::File);
    let mut data: Vec<u8> = (0..max_line).map(|_| fastrand::u8(b'!'..=b'~')).collect();
    data.push(b'\n');
    let line = Line {
        start: 0,
        end: max_line as u32,
        next_offset: data.len() as u64,
    };
    let input = Chunk {
        mark: None,
        file: f.clone(),
        end_offset: data.len() as u64,
        data: data.into(),
        lines: vec![line],
        start_offset: 0,
        released: false,
    };
    let mut out = Vec::new();
    batcher.push(&input, Instant::now(), &mut out);
    batcher.flush(&mut out);
    let entry = &out[0].entries[0];
    assert!(entry.billed_bytes() <= 1 << 20, "{}", entry.billed_bytes());
}

/// A chunk holding `lines`, from file offset 0.
fn text_chunk(file: &Arc<FileRef>, texts: &[&str]) -> Chunk {
    let mut data = Vec::new();
    let mut lines = Vec::new();
    for text in texts {
        let begin = data.len();
        data.extend_from_slice(text.as_bytes());
        lines.push(Line {
            start: begin as u32,
            end: data.len() as u32,
            next_offset: data.len() as u64 + 1,
        });
        data.push(b'\n');
    }
    Chunk {
        mark: None,
        file: file.clone(),
        end_offset: data.len() as u64,
        data: data.into(),
        lines,
        start_offset: 0,
        released: false,
    }
}

fn field_policy(template: &str) -> KeyPolicy {
    match crate::config::PartitionKey::parse(template).unwrap() {
        crate::config::PartitionKey::Template(parts) => KeyPolicy::PerRecord(parts.into()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_read_from_records_group_packed_lines_and_count_fallbacks() {
    let f = file("/l/a.log");
    for aggregation in [Aggregation::Lines, Aggregation::Kpl] {
        let fallbacks = Arc::new(AtomicU64::new(0));
        let mut batcher = Batcher::new(
            limits(500, 5 << 20, 1 << 20),
            aggregation,
            field_policy("{field.u}"),
        )
        .count_fallbacks_in(fallbacks.clone());
        let texts = [r#"{"u":"a"}"#, r#"{"u":"b"}"#, r#"{"u":"a"}"#, r#"{"v":1}"#];
        let chunk = text_chunk(&f, &texts);
        let mut out = Vec::new();
        batcher.push(&chunk, Instant::now(), &mut out);
        batcher.flush(&mut out);
        assert_eq!(out.len(), 1);
        let entry = |key: &str| {
            let found = out[0].entries.iter().find(|e| e.partition_key == key);
            found.unwrap_or_else(|| panic!("{aggregation:?}: no record keyed {key}"))
        };
        entry("b");
        let random = out[0]
            .entries
            .iter()
            .filter(|e| e.partition_key.len() == 16);
        assert_eq!(
            random.count(),
            1,
            "the record without the field: a random key"
        );
        assert_eq!(out[0].entries.len(), 3);
        assert_eq!(fallbacks.load(Relaxed), 1);
        assert_eq!(out[0].lines, 4);
        assert_eq!(offsets(&out[0]), [chunk.end_offset]);
        if aggregation == Aggregation::Lines {
            assert_eq!(&entry("a").data[..], b"{\"u\":\"a\"}\n{\"u\":\"a\"}\n");
        } else {
            let users = kpl::decode(&entry("a").data).unwrap();
            assert_eq!(users.len(), 2, "the two lines of key a in one aggregate");
        }
    }
}

#[test]
fn deterministic_keys_hash_each_line_or_each_packed_record() {
    let f = file("/l/a.log");
    let chunk = text_chunk(&f, &["one", "two"]);
    let md5 = |data: &[u8]| KeyPolicy::Deterministic.record_key(&f, data).unwrap();
    for (aggregation, expected) in [
        (Aggregation::None, vec![md5(b"one"), md5(b"two")]),
        (Aggregation::Lines, vec![md5(b"one\ntwo\n")]),
    ] {
        let mut batcher = Batcher::new(
            limits(500, 5 << 20, 1 << 20),
            aggregation,
            KeyPolicy::Deterministic,
        );
        let mut out = Vec::new();
        batcher.push(&chunk, Instant::now(), &mut out);
        batcher.flush(&mut out);
        let keys: Vec<String> = out[0]
            .entries
            .iter()
            .map(|e| e.partition_key.to_string())
            .collect();
        assert_eq!(keys, expected, "{aggregation:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_stage_takes_no_chunk_while_its_output_is_full() {
    let f = file("/l/a.log");
    let batcher = Batcher::new(
        limits(10, 5 << 20, 1 << 20),
        Aggregation::None,
        KeyPolicy::Random,
    );
    let (chunk_tx, chunk_rx) = mpsc::channel(1);
    let (batch_tx, mut batch_rx) = mpsc::channel(1);
    let stage = tokio::spawn(run_batcher(batcher, chunk_rx, batch_tx));
    // Ten lines fill a batch, cut when the next line arrives: the second chunk sends the
    // first batch, which fills the output, so the third chunk must stay in the input.
    for start in [0, 100, 200] {
        chunk_tx.send(chunk(&f, start, 10, 9)).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        chunk_tx.capacity(),
        0,
        "the third chunk waits in the input while the first batch waits in the output"
    );
    let first = batch_rx.recv().await.unwrap();
    assert_eq!(offsets(&first), [100]);
    drop(chunk_tx);
    let second = batch_rx.recv().await.unwrap();
    assert_eq!(offsets(&second), [200]);
    assert_eq!(offsets(&batch_rx.recv().await.unwrap()), [300]);
    assert!(batch_rx.recv().await.is_none());
    stage.await.unwrap();
}
