use super::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn heads_follow_the_rfc_examples() {
    // RFC 8949, appendix A.
    let table: [(u8, u64, &str); 7] = [
        (0, 10, "0a"),
        (0, 23, "17"),
        (0, 24, "1818"),
        (0, 100, "1864"),
        (0, 1000, "1903e8"),
        (0, 1_000_000, "1a000f4240"),
        (0, 1_000_000_000_000, "1b000000e8d4a51000"),
    ];
    for (major, n, expected) in table {
        let mut out = Vec::new();
        head(major, n, &mut out);
        assert_eq!(hex(&out), expected, "{n}");
    }
    let mut out = Vec::new();
    text("IETF", &mut out);
    assert_eq!(hex(&out), "6449455446");
}

#[test]
fn put_records_body_reads_back_member_by_member() {
    let a = Entry::new(vec![0u8, 255, 10], "k1");
    let b =
        Entry::new(vec![7u8; 300], "/var/log/app.log").with_explicit_hash_key(Some("42".into()));
    let mut body = Vec::new();
    put_records("web", &[&a, &b], &mut body);
    assert!(body.len() <= body_capacity([&a, &b], 3));
    let mut reader = Reader {
        body: &body,
        at: 0,
        depth: 0,
    };
    let mut seen = Vec::new();
    reader
        .map(|r, key| {
            seen.push(key.to_owned());
            match key {
                "Records" => {
                    assert_eq!(r.next()?, Item::Array(Some(2)));
                    for (entry, members) in [(&a, 2), (&b, 3)] {
                        assert_eq!(r.next()?, Item::Map(Some(members)));
                        assert_eq!(r.next()?, Item::Text("Data"));
                        assert_eq!(r.next()?, Item::Bytes(&entry.data[..]));
                        if members == 3 {
                            assert_eq!(r.next()?, Item::Text("ExplicitHashKey"));
                            assert_eq!(r.next()?, Item::Text("42"));
                        }
                        assert_eq!(r.next()?, Item::Text("PartitionKey"));
                        assert_eq!(r.next()?, Item::Text(entry.partition_key.as_str()));
                    }
                    Ok(())
                }
                _ => {
                    assert_eq!(r.next()?, Item::Text("web"));
                    Ok(())
                }
            }
        })
        .unwrap();
    assert_eq!(seen, ["Records", "StreamName"]);
    assert_eq!(reader.at, body.len());
}

/// A response as a server might write it: indefinite lengths, members in another order, a tag
/// and a float in fields edgeship ignores.
fn indefinite_response() -> Vec<u8> {
    let mut out = vec![0xbf]; // map, indefinite
    text("EncryptionType", &mut out);
    text("NONE", &mut out);
    text("FailedRecordCount", &mut out);
    out.push(0x01);
    text("Records", &mut out);
    out.push(0x9f); // array, indefinite
    out.push(0xa2);
    text("SequenceNumber", &mut out);
    out.extend_from_slice(&[0xc2, 0x41, 0x01]); // tag 2 (bignum) over a byte string
    text("ShardId", &mut out);
    text("shardId-000000000001", &mut out);
    out.push(0xbf);
    text("ErrorMessage", &mut out);
    text("Rate exceeded", &mut out);
    text("ErrorCode", &mut out);
    text("ProvisionedThroughputExceededException", &mut out);
    text("Score", &mut out);
    out.extend_from_slice(&[0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]); // 1.1
    out.push(0xff);
    out.extend_from_slice(&[0xff, 0xff]);
    out
}

#[test]
fn responses_with_any_lengths_give_one_status_per_entry() {
    let statuses = put_records_response(&indefinite_response(), |id: &str| Arc::from(id)).unwrap();
    assert_eq!(
        statuses,
        vec![
            EntryStatus::Delivered {
                shard_id: Some(Arc::from("shardId-000000000001"))
            },
            EntryStatus::Failed {
                code: "ProvisionedThroughputExceededException".into(),
                message: "Rate exceeded".into()
            },
        ]
    );
    let mut truncated = indefinite_response();
    truncated.truncate(truncated.len() - 40);
    let error = put_records_response(&truncated, |id: &str| Arc::from(id)).unwrap_err();
    assert_eq!(error.code, "ResponseError");
}

#[test]
fn error_bodies_give_type_and_message() {
    let mut body = vec![0xa2];
    text("__type", &mut body);
    text("ResourceNotFoundException", &mut body);
    text("message", &mut body);
    text("Stream web not found", &mut body);
    assert_eq!(
        error_fields(&body),
        (
            Some("ResourceNotFoundException".into()),
            Some("Stream web not found".into())
        )
    );
    assert_eq!(error_fields(b"{\"__type\":\"x\"}"), (None, None));
}

#[test]
fn an_error_code_that_cannot_be_read_fails_the_entry_and_deep_nesting_is_refused() {
    let mut body = vec![0xa1];
    text("Records", &mut body);
    body.extend_from_slice(&[0x82, 0xa1]);
    text("ErrorCode", &mut body);
    body.extend_from_slice(&[0x7f, 0x62, b'I', b'n', 0xff]); // chunked text "In"
    body.push(0xa1);
    text("ErrorCode", &mut body);
    body.push(0xf6); // null: no error
    let statuses = put_records_response(&body, |id: &str| Arc::from(id)).unwrap();
    assert!(
        matches!(&statuses[0], EntryStatus::Failed { code, .. } if code == "UnreadableErrorCode")
    );
    assert_eq!(statuses[1], EntryStatus::Delivered { shard_id: None });

    let mut deep = vec![0xa1];
    text("Other", &mut deep);
    deep.extend(std::iter::repeat_n(0x81, 100));
    deep.push(0x00);
    let error = put_records_response(&deep, |id: &str| Arc::from(id)).unwrap_err();
    assert!(
        error.message.contains("nested too deeply"),
        "{}",
        error.message
    );
}
