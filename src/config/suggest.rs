//! "Did you mean" for misspelt keys and values: serde names the unknown word and lists the
//! expected ones; the closest by edit distance is suggested when it is close enough.

/// For a TOML error message such as ``unknown field `strem`, expected one of `a`, `b` `` (or
/// `unknown variant`), the suggestion line, if one expected word is close to the unknown one.
pub fn did_you_mean(message: &str) -> Option<String> {
    let rest = message
        .split_once("unknown field `")
        .or_else(|| message.split_once("unknown variant `"))?
        .1;
    let (unknown, expected) = rest.split_once('`')?;
    let expected = expected.lines().next()?;
    let lower = unknown.to_ascii_lowercase();
    let candidates = expected.split('`').skip(1).step_by(2);
    let (best, distance) = candidates
        .map(|c| (c, edit_distance(&lower, c)))
        .min_by_key(|(_, d)| *d)?;
    // Distance 0 is a difference of case only (`KPL`); a prefix is a longer spelling
    // (`warning` for `warn`).
    let close_enough = distance <= (unknown.chars().count() / 3).max(1)
        || (best.len() >= 3 && lower.starts_with(best));
    close_enough.then(|| format!("did you mean `{best}`?"))
}

/// Levenshtein distance; the words are config keys, a few dozen characters at most.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_expected_word() {
        let cases = [
            (
                "unknown field `kinesis_strem`, expected one of `name`, `paths`, `kinesis_stream`, `firehose_stream`",
                Some("did you mean `kinesis_stream`?"),
            ),
            (
                "unknown variant `begining`, expected `beginning` or `end`",
                Some("did you mean `beginning`?"),
            ),
            (
                "unknown variant `KPL`, expected one of `none`, `lines`, `kpl`",
                Some("did you mean `kpl`?"),
            ),
            (
                "unknown variant `warning`, expected one of `error`, `warn`, `info`",
                Some("did you mean `warn`?"),
            ),
            (
                "unknown field `colour`, expected one of `name`, `paths`",
                None,
            ),
            ("invalid type: integer `5`, expected a string", None),
        ];
        for (message, expected) in cases {
            assert_eq!(did_you_mean(message).as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
