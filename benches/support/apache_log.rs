//! Apache combined-format access logs for compression figures and tests, from `edgeship
//! generate`'s own generator (seeded, so repeatable; about as redundant as a real site's log).
//! Each line carries its sequence number in its query (`?q=seqN`), so every line is distinct.

/// `count` lines starting at sequence number `first`, each without its `\n`, 20 per second.
pub fn apache_lines(first: usize, count: usize) -> Vec<String> {
    /// 2026-12-01T00:00:00Z.
    const START_MS: i64 = 1_796_083_200_000;
    let mut rng = fastrand::Rng::with_seed(first as u64);
    let format = edgeship::generate::Format::ApacheCombined;
    (first..first + count)
        .map(|n| format.line(&mut rng, START_MS + n as i64 * 50, &format!("seq{n}")))
        .collect()
}
