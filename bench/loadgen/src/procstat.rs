//! What a group of processes cost: CPU time from `/proc/PID/stat`, memory from
//! `/proc/PID/status`. A group is one program, such as gunicorn's master and its workers.

use std::fs;

use anyhow::Context as _;
use serde::Serialize;

/// Linux reports CPU times in USER_HZ ticks, which is 100 on every architecture it exports
/// them for, whatever the kernel's own tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// Processes watched under one name.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub pids: Vec<u32>,
}

impl Group {
    /// `NAME=PID,PID,...`; `self` as a PID is this program.
    pub fn parse(text: &str) -> anyhow::Result<Group> {
        let (name, pids) = text
            .split_once('=')
            .with_context(|| format!("{text:?} is not NAME=PID,PID,..."))?;
        let pids = pids
            .split(',')
            .map(|pid| match pid.trim() {
                "self" => Ok(std::process::id()),
                pid => pid.parse().with_context(|| format!("{pid:?} is not a pid")),
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Group {
            name: name.to_owned(),
            pids,
        })
    }

    /// CPU seconds (user and system) the group has used since each process started.
    pub fn cpu_seconds(&self) -> f64 {
        self.pids
            .iter()
            .filter_map(|pid| cpu_ticks(*pid))
            .sum::<u64>() as f64
            / TICKS_PER_SECOND
    }

    /// The sum of each process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.pids
            .iter()
            .filter_map(|pid| status_kib(*pid, "VmHWM:"))
            .sum()
    }

    /// The sum of each process's resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.pids
            .iter()
            .filter_map(|pid| status_kib(*pid, "VmRSS:"))
            .sum()
    }
}

/// What a group used during the measured window.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Usage {
    pub name: String,
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
    /// Resident memory before the first delivery was sent.
    pub idle_rss_kib: u64,
}

/// utime + stime, fields 14 and 15. The name before them is in parentheses and may hold
/// spaces, so fields are counted from the last `)`.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_using_memory_and_time() {
        let group = Group::parse("me=self").unwrap();
        let busy: u64 = (0..20_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(busy > 0);
        assert!(group.peak_rss_kib() >= group.rss_kib() && group.rss_kib() > 0);
        assert!(group.cpu_seconds() >= 0.0);
    }

    #[test]
    fn a_group_names_its_pids() {
        let group = Group::parse("flask=10,11, 12").unwrap();
        assert_eq!(
            (group.name.as_str(), group.pids),
            ("flask", vec![10, 11, 12])
        );
        assert!(Group::parse("flask").is_err());
        assert!(Group::parse("flask=ten").is_err());
    }
}
