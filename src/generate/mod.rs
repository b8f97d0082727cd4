//! `edgeship generate`: realistic log lines at a chosen rate into a file, rotated like
//! logrotate's `create` (rename, then a new file), for load tests, benches and `plan`.
//! [`formats`] and [`template`] make the lines (pure, seeded); this module paces and writes.

pub mod formats;
pub mod template;

pub use formats::{FORMAT_NAMES, Format};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// With `--seed`, line times start here (2026-01-01T00:00:00Z) so the output is the same on
/// every run; without, at the current time.
const SEEDED_START_MS: i64 = 1_767_225_600_000;
/// Longest sleep between writes: the file grows at least this often.
const MAX_PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub format: Format,
    /// Lines per second (> 0).
    pub rate: f64,
    pub duration: Duration,
    pub output: PathBuf,
    pub rotate_every: Option<Duration>,
    /// Pad each line to this many bytes (newline excluded); longer lines stay as they are.
    pub line_bytes: Option<usize>,
    pub seed: Option<u64>,
    /// Each line carries its number in the run (`seq0`, `seq1`, ...) in its free text, so a
    /// load test can check that every line arrived, once.
    pub numbered: bool,
}

/// What was written.
#[derive(Debug, Default, PartialEq)]
pub struct Written {
    pub lines: u64,
    pub bytes: u64,
    /// The rotated files, oldest first.
    pub rotated: Vec<PathBuf>,
}

/// Writes `rate × duration` lines (rounded) spread evenly over `duration`, and returns when
/// `duration` has passed.
pub fn run(options: &GenerateOptions) -> std::io::Result<Written> {
    let mut rng = match options.seed {
        Some(seed) => fastrand::Rng::with_seed(seed),
        None => fastrand::Rng::new(),
    };
    let start_ms = match options.seed {
        Some(_) => SEEDED_START_MS,
        None => unix_ms(SystemTime::now()),
    };
    let total = (options.rate * options.duration.as_secs_f64()).round() as u64;
    let started = Instant::now();
    let mut out = open(&options.output, &options.format)?;
    let mut written = Written::default();
    let mut next_rotation = options.rotate_every;
    let mut line = String::new();
    while written.lines < total {
        let elapsed = started.elapsed();
        if next_rotation.is_some_and(|at| elapsed >= at) {
            out.flush()?;
            written
                .rotated
                .push(rotate(&options.output, written.rotated.len() + 1)?);
            out = open(&options.output, &options.format)?;
            next_rotation = next_rotation.zip(options.rotate_every).map(|(a, b)| a + b);
        }
        let due = ((options.rate * elapsed.as_secs_f64()) as u64 + 1).min(total);
        while written.lines < due {
            let time_ms = start_ms + (written.lines as f64 * 1000.0 / options.rate) as i64;
            line.clear();
            line.push_str(&make_line(options, &mut rng, time_ms, written.lines));
            line.push('\n');
            out.write_all(line.as_bytes())?;
            written.lines += 1;
            written.bytes += line.len() as u64;
        }
        out.flush()?;
        let next_due = Duration::from_secs_f64(written.lines as f64 / options.rate);
        let pause = next_due.saturating_sub(started.elapsed()).min(MAX_PAUSE);
        if written.lines < total && !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    out.flush()?;
    // The run lasts `duration`, as a writer at this rate would.
    std::thread::sleep(options.duration.saturating_sub(started.elapsed()));
    Ok(written)
}

/// Line `n`, numbered if asked, padded to `line_bytes` inside the format's free text.
fn make_line(options: &GenerateOptions, rng: &mut fastrand::Rng, time_ms: i64, n: u64) -> String {
    let tag = match options.numbered {
        true => format!("seq{n}"),
        false => String::new(),
    };
    let Some(target) = options.line_bytes else {
        return options.format.line(rng, time_ms, &tag);
    };
    // The same draws with and without filler: the filler is all that differs.
    let mut probe = rng.clone();
    let plain = options.format.line(&mut probe, time_ms, &tag);
    if plain.len() >= target {
        *rng = probe;
        return plain;
    }
    let separator = if tag.is_empty() { "" } else { "." };
    let filler = (target - plain.len()).saturating_sub(separator.len());
    let free = format!("{tag}{separator}{}", "x".repeat(filler));
    options.format.line(rng, time_ms, &free)
}

fn open(path: &Path, format: &Format) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let fresh = file.metadata()?.len() == 0;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    if let (true, Some(header)) = (fresh, format.header()) {
        writeln!(out, "{header}")?;
    }
    Ok(out)
}

/// `PATH` becomes `PATH.<n>` (1 for the first rotation): newest highest, all matched by
/// `PATH*`.
fn rotate(path: &Path, n: usize) -> std::io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    let rotated = PathBuf::from(name);
    std::fs::rename(path, &rotated)?;
    Ok(rotated)
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path, format: &str, seed: Option<u64>) -> GenerateOptions {
        GenerateOptions {
            format: Format::named(format, None).unwrap(),
            rate: 2000.0,
            duration: Duration::from_millis(100),
            output: dir.join("gen.log"),
            rotate_every: None,
            line_bytes: Some(300),
            seed,
            numbered: false,
        }
    }

    #[test]
    fn numbered_lines_carry_their_number_and_keep_their_length() {
        let dir = tempfile::tempdir().unwrap();
        for format in ["apache_combined", "syslog", "json", "csv"] {
            let mut o = options(dir.path(), format, Some(3));
            o.numbered = true;
            o.output = dir.path().join(format!("{format}.log"));
            run(&o).unwrap();
            let text = std::fs::read_to_string(&o.output).unwrap();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with("timestamp,"))
                .collect();
            assert_eq!(lines.len(), 200, "{format}");
            for (n, line) in lines.iter().enumerate() {
                assert!(line.contains(&format!("seq{n}.x")), "{format}: {line}");
                assert_eq!(line.len(), 300, "{format}: {line}");
            }
        }
    }

    #[test]
    fn a_seed_gives_the_same_bytes_and_lines_are_padded_to_line_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut texts = Vec::new();
        for _ in 0..2 {
            let o = options(dir.path(), "json", Some(9));
            let written = run(&o).unwrap();
            assert_eq!(written.lines, 200);
            assert_eq!(written.bytes, 200 * 301);
            texts.push(std::fs::read(&o.output).unwrap());
            std::fs::remove_file(&o.output).unwrap();
        }
        assert_eq!(texts[0], texts[1]);
        let text = String::from_utf8(texts.remove(0)).unwrap();
        assert!(text.lines().all(|l| l.len() == 300), "{text}");
        assert!(text.starts_with(r#"{"timestamp":"2026-01-01T00:00:00.000Z""#));
    }

    #[test]
    fn csv_files_start_with_their_header_again_after_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = options(dir.path(), "csv", Some(1));
        o.rate = 100.0;
        o.duration = Duration::from_millis(300);
        o.rotate_every = Some(Duration::from_millis(100));
        let written = run(&o).unwrap();
        assert_eq!(written.lines, 30);
        assert!(!written.rotated.is_empty());
        let mut data_lines = 0;
        for path in written.rotated.iter().chain([&o.output]) {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(
                text.starts_with("timestamp,level,host,"),
                "{}",
                path.display()
            );
            data_lines += text.lines().count() - 1;
        }
        assert_eq!(data_lines, 30);
    }
}
