//! Reads the host's figures with `sysinfo` (the I/O side of [`sample`](super::sample)): `/proc`
//! and `/sys` on Linux. Blocking (file reads, `statvfs` per mount): called off the runtime.

use super::sample::{self, Cpu, Disk, Interface, Load, Memory, Sample, Swap, Temperature};
use std::time::{Instant, SystemTime};
use sysinfo::{Components, DiskRefreshKind, Disks, Networks, System};

/// Readers kept between records: CPU usage and network rates are differences to the previous
/// reading.
pub struct Probe {
    system: System,
    disks: Disks,
    networks: Networks,
    components: Option<Components>,
    last: Instant,
}

impl Probe {
    /// Takes the first readings (the baseline of the first record's rates).
    pub fn new() -> Result<Probe, String> {
        let failed = |what: &str, e: sysinfo::Error| format!("cannot read the host's {what}: {e}");
        let mut system = System::new().map_err(|e| failed("CPU and memory figures", e))?;
        system.refresh_cpu_usage();
        let disks =
            Disks::new_with_refreshed_list_specifics(storage()).map_err(|e| failed("mounts", e))?;
        let networks =
            Networks::new_with_refreshed_list().map_err(|e| failed("network interfaces", e))?;
        // Many hosts (VMs, containers) have no sensors: that is an empty list, not an error.
        let components = Components::new_with_refreshed_list().ok();
        Ok(Probe {
            system,
            disks,
            networks,
            components,
            last: Instant::now(),
        })
    }

    /// Reads everything again and returns the record for `host` at `now`.
    pub fn sample(&mut self, host: &str, now: SystemTime) -> Sample {
        let elapsed = self.last.elapsed();
        self.last = Instant::now();
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        // `true`: mounts and interfaces that went away leave the list; new ones join it.
        self.disks.refresh_specifics(true, storage());
        self.networks.refresh(true);
        if let Some(components) = &mut self.components {
            components.refresh(true);
        }
        let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
            one: 0.0,
            five: 0.0,
            fifteen: 0.0,
        });
        let (total, available) = (self.system.total_memory(), self.system.available_memory());
        let used = total.saturating_sub(available);
        Sample {
            timestamp: sample::timestamp(now),
            host: host.to_owned(),
            uptime_secs: System::uptime().unwrap_or(0),
            load: Load {
                one: sample::round(load.one, 2),
                five: sample::round(load.five, 2),
                fifteen: sample::round(load.fifteen, 2),
            },
            cpu: Cpu {
                usage_percent: sample::round(f64::from(self.system.global_cpu_usage()), 1),
                cores: self.system.cpus().len(),
            },
            memory: Memory {
                total_bytes: total,
                available_bytes: available,
                used_bytes: used,
                used_percent: sample::percent(used, total),
            },
            swap: Swap {
                total_bytes: self.system.total_swap(),
                used_bytes: self.system.used_swap(),
            },
            disks: self.disks(),
            network: self.interfaces(elapsed),
            temperatures: self.temperatures(),
        }
    }

    fn disks(&self) -> Vec<Disk> {
        self.disks
            .iter()
            .map(|d| {
                let (total, available) = (d.total_space(), d.available_space());
                Disk {
                    mount: d.mount_point().display().to_string(),
                    filesystem: d.file_system().to_string_lossy().into_owned(),
                    total_bytes: total,
                    available_bytes: available,
                    used_percent: sample::percent(total.saturating_sub(available), total),
                }
            })
            .collect()
    }

    fn interfaces(&self, elapsed: std::time::Duration) -> Vec<Interface> {
        let mut interfaces: Vec<Interface> = self
            .networks
            .iter()
            .map(|(name, data)| Interface {
                name: name.to_string_lossy().into_owned(),
                rx_bytes_total: data.total_received(),
                tx_bytes_total: data.total_transmitted(),
                rx_bytes_per_sec: sample::per_second(data.received(), elapsed),
                tx_bytes_per_sec: sample::per_second(data.transmitted(), elapsed),
            })
            .collect();
        interfaces.sort_by(|a, b| a.name.cmp(&b.name)); // a map: stable order for readers
        interfaces
    }

    fn temperatures(&self) -> Vec<Temperature> {
        let Some(components) = &self.components else {
            return Vec::new();
        };
        components
            .iter()
            .filter_map(|c| {
                Some(Temperature {
                    sensor: c.label().to_owned(),
                    celsius: sample::round(f64::from(c.temperature()?), 1),
                    critical_celsius: c.critical().map(|t| sample::round(f64::from(t), 1)),
                })
            })
            .collect()
    }
}

/// For `edgeship validate`: what a record of this host holds (read now, as the user running
/// validate).
pub fn report(spec: &super::HostMetricsSpec) -> String {
    let every = humantime::format_duration(spec.interval);
    let sample = match Probe::new() {
        Ok(mut probe) => probe.sample("", SystemTime::now()),
        Err(error) => return format!("  host_metrics every {every}: warning: {error}"),
    };
    let sensors = match sample.temperatures.len() {
        0 => "no temperature sensors (the kernel exposes none here)".to_owned(),
        n => format!("{n} temperature sensors"),
    };
    format!(
        "  host_metrics every {every}: {} cores, {} mounts, {} network interfaces, {sensors}",
        sample.cpu.cores,
        sample.disks.len(),
        sample.network.len()
    )
}

/// Sizes only: the kind (SSD or not) and I/O counters cost reads per disk nobody asked for.
fn storage() -> DiskRefreshKind {
    DiskRefreshKind::nothing().with_storage()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plausible_figures_of_this_host() {
        let mut probe = Probe::new().expect("this host's /proc is readable");
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let sample = probe.sample("test-host", SystemTime::now());
        assert!(sample.cpu.cores >= 1);
        assert!((0.0..=100.0).contains(&sample.cpu.usage_percent));
        assert!(sample.memory.total_bytes > 0);
        assert!(sample.memory.available_bytes <= sample.memory.total_bytes);
        assert!(sample.uptime_secs > 0);
        assert!(sample.load.one >= 0.0);
        assert!(sample.network.iter().any(|i| i.name == "lo"));
    }
}
