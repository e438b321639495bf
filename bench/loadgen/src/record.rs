//! One measured run, as a line of JSON in the results file.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::procstat::Usage;

/// Latency of the deliveries stored in the measured window.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// `proxy`, `database`, `full`, `alone` or `flask`, with a suffix for variants.
    pub config: String,
    pub batch: usize,
    pub connections: usize,
    pub offered_rate: Option<f64>,
    /// Length of the measured window.
    pub seconds: f64,
    /// Deliveries answered as stored.
    pub deliveries: u64,
    /// Events the answers said were new.
    pub events_accepted: u64,
    /// Deliveries that failed, by status or by what went wrong.
    pub failures: BTreeMap<String, u64>,
    pub deliveries_per_second: f64,
    pub events_per_second: f64,
    pub latency: Latency,
    pub usage: Vec<Usage>,
}

impl Record {
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    pub fn usage(&self, name: &str) -> Option<&Usage> {
        self.usage.iter().find(|usage| usage.name == name)
    }

    /// CPU seconds `name` used per 1,000 stored deliveries.
    pub fn cpu_per_1000(&self, name: &str) -> Option<f64> {
        let usage = self.usage(name)?;
        (self.deliveries > 0).then(|| usage.cpu_seconds * 1000.0 / self.deliveries as f64)
    }

    /// One line for a person watching the run.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{:<14} B={:<3} C={:<3} {:>8.1} deliveries/s {:>9.1} events/s  p50 {:.2} ms  p99 {:.2} \
             ms  p99.9 {:.2} ms  max {:.2} ms",
            self.config,
            self.batch,
            self.connections,
            self.deliveries_per_second,
            self.events_per_second,
            self.latency.p50_ms,
            self.latency.p99_ms,
            self.latency.p999_ms,
            self.latency.max_ms,
        );
        for usage in &self.usage {
            line += &format!(
                "  {}: {:.3} cpu-s/1000, peak {:.1} MiB",
                usage.name,
                self.cpu_per_1000(&usage.name).unwrap_or(f64::NAN),
                usage.peak_rss_kib as f64 / 1024.0
            );
        }
        if self.failed() > 0 {
            line += &format!("  FAILED {:?}", self.failures);
        }
        line
    }

    pub fn append_to(&self, path: &Path) -> anyhow::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(file, "{}", serde_json::to_string(self)?)
            .with_context(|| format!("cannot write to {}", path.display()))
    }

    pub fn read_all(path: &Path) -> anyhow::Result<Vec<Record>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).context("a results line is not a record"))
            .collect()
    }
}
