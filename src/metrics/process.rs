//! The agent's own footprint, read from `/proc/self` (small and stable, where the `sysinfo`
//! crate would add weight and frequent breaking releases).

/// Resident memory, CPU time and open descriptors of this process.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessUsage {
    pub resident_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
}

pub fn usage() -> ProcessUsage {
    ProcessUsage {
        resident_bytes: resident_bytes().unwrap_or(0),
        cpu_seconds: cpu_seconds().unwrap_or(0.0),
        open_fds: open_fds().unwrap_or(0),
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(
        ticks as f64
            / if per_second > 0 {
                per_second as f64
            } else {
                100.0
            },
    )
}

fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let usage = super::usage();
        assert!(usage.resident_bytes > 1024 * 1024);
        assert!(usage.open_fds >= 3);
    }
}
