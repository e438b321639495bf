//! Driving C workers for a bounded time, recording each delivery's latency.
//!
//! Without a rate, each worker sends its next delivery as soon as the last one is answered:
//! the most the target can take at that concurrency. With a rate, deliveries are due at fixed
//! times whatever the answers do, and latency counts from when a delivery was due, not from
//! when a busy worker got round to it, so a target that falls behind shows it in full.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::payload::Batch;
use crate::procstat::{Group, Usage};
use crate::record::{Latency, Record};

/// A pause after a failed connection, so that a target that is down is not hammered.
const AFTER_FAILURE: Duration = Duration::from_millis(20);
/// Latencies are kept to three significant digits, up to this.
const LONGEST_RECORDED: Duration = Duration::from_secs(120);

/// How much load, for how long.
#[derive(Clone, Debug)]
pub struct Plan {
    pub connections: usize,
    pub batch: usize,
    /// Load that is sent but not counted, while connections and caches settle.
    pub warmup: Duration,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// Stop early after this many deliveries, counting the warm-up.
    pub max_deliveries: u64,
    /// Deliveries per second offered, or as fast as answers come when absent.
    pub rate: Option<f64>,
    /// A delivery unanswered after this counts as failed.
    pub timeout: Duration,
}

/// What became of one delivery.
pub enum Outcome {
    /// Answered with the expected status; `accepted` events were new, when the answer says.
    Stored { accepted: Option<u64> },
    /// Answered with another status.
    Refused(u16),
}

/// Something that takes deliveries over one connection of its own.
pub trait Worker: Send + 'static {
    fn send(&mut self, batch: &Batch) -> impl Future<Output = anyhow::Result<Outcome>> + Send;
}

/// What one worker saw in the measured window.
struct Tally {
    latency: Histogram<u64>,
    stored: u64,
    accepted: u64,
    statuses: BTreeMap<String, u64>,
    last_done: Option<Instant>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, LONGEST_RECORDED.as_micros() as u64, 3)
                .unwrap_or_else(|_| unreachable!("the bounds are valid")),
            stored: 0,
            accepted: 0,
            statuses: BTreeMap::new(),
            last_done: None,
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.latency.add(&other.latency);
        self.stored += other.stored;
        self.accepted += other.accepted;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.last_done = self.last_done.max(other.last_done);
    }
}

/// The times that bound a run, shared by its workers.
struct Clock {
    start: Instant,
    measure_from: Instant,
    stop_at: Instant,
    next: AtomicU64,
    /// Whether a failure has been shown yet: the first one says why, the rest are counted.
    reported: AtomicBool,
}

/// Runs `workers` (one per connection) under `plan`, watching `groups`, and returns the
/// measured window's numbers labelled `config`.
pub async fn run<W: Worker>(
    config: &str,
    plan: &Plan,
    run_tag: &str,
    workers: Vec<W>,
    groups: &[Group],
) -> anyhow::Result<Record> {
    let idle: Vec<u64> = groups.iter().map(Group::rss_kib).collect();
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let clock = Arc::new(Clock {
        start,
        measure_from,
        stop_at: measure_from + plan.duration,
        next: AtomicU64::new(0),
        reported: AtomicBool::new(false),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for worker in workers {
        let (clock, plan, run_tag) = (clock.clone(), plan.clone(), run_tag.to_owned());
        tasks.spawn(async move { drive(worker, &clock, &plan, &run_tag).await });
    }

    tokio::time::sleep_until(measure_from).await;
    let before: Vec<f64> = groups.iter().map(Group::cpu_seconds).collect();
    let window_start = Instant::now();

    // The window ends at its time, or earlier when the workers reach the count.
    let mut total = Tally::new();
    let ended_early = tokio::select! {
        _ = tokio::time::sleep_until(clock.stop_at) => false,
        _ = wait_all(&mut tasks, &mut total) => true,
    };
    let window_end = Instant::now();
    let usage: Vec<Usage> = groups
        .iter()
        .zip(before.iter().zip(&idle))
        .map(|(group, (cpu, idle))| Usage {
            name: group.name.clone(),
            cpu_seconds: group.cpu_seconds() - cpu,
            peak_rss_kib: group.peak_rss_kib(),
            idle_rss_kib: *idle,
        })
        .collect();
    if !ended_early {
        wait_all(&mut tasks, &mut total).await;
    }

    let end = if ended_early {
        total.last_done.unwrap_or(window_end)
    } else {
        window_end
    };
    let seconds = (end - window_start).as_secs_f64().max(1e-3);
    Ok(Record::new(config, plan, seconds, &total, usage))
}

async fn wait_all(tasks: &mut tokio::task::JoinSet<Tally>, total: &mut Tally) {
    while let Some(done) = tasks.join_next().await {
        if let Ok(tally) = done {
            total.merge(tally);
        }
    }
}

async fn drive<W: Worker>(mut worker: W, clock: &Clock, plan: &Plan, run_tag: &str) -> Tally {
    let mut tally = Tally::new();
    loop {
        let sequence = clock.next.fetch_add(1, Ordering::Relaxed);
        if sequence >= plan.max_deliveries {
            break;
        }
        let due = match plan.rate {
            Some(rate) => clock.start + Duration::from_secs_f64(sequence as f64 / rate),
            None => Instant::now(),
        };
        if due >= clock.stop_at {
            break;
        }
        tokio::time::sleep_until(due).await;

        let batch = Batch::new(run_tag, sequence, plan.batch);
        let outcome = tokio::time::timeout(plan.timeout, worker.send(&batch)).await;
        let done = Instant::now();
        let counted = due >= clock.measure_from && done <= clock.stop_at;
        let events = batch.events.len() as u64;
        let status = match outcome {
            // Every event of every delivery is new, so anything less is a fault.
            Ok(Ok(Outcome::Stored {
                accepted: Some(accepted),
            })) if accepted != events => format!("stored {accepted} of {events} events"),
            Ok(Ok(Outcome::Stored { accepted })) => {
                let accepted = accepted.unwrap_or(0);
                if counted {
                    let micros = (done - due).as_micros() as u64;
                    let _ = tally.latency.record(micros.max(1));
                    tally.stored += 1;
                    tally.accepted += accepted;
                    tally.last_done = Some(done);
                }
                continue;
            }
            Ok(Ok(Outcome::Refused(status))) => status.to_string(),
            Ok(Err(err)) => {
                if !clock.reported.swap(true, Ordering::Relaxed) {
                    eprintln!("first failure: {err:#}");
                }
                tokio::time::sleep(AFTER_FAILURE).await;
                "no answer".to_owned()
            }
            Err(_) => "timed out".to_owned(),
        };
        if counted {
            *tally.statuses.entry(status).or_default() += 1;
        }
    }
    tally
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

impl Record {
    fn new(config: &str, plan: &Plan, seconds: f64, tally: &Tally, usage: Vec<Usage>) -> Record {
        Record {
            config: config.to_owned(),
            batch: plan.batch,
            connections: plan.connections,
            offered_rate: plan.rate,
            seconds,
            deliveries: tally.stored,
            events_accepted: tally.accepted,
            failures: tally.statuses.clone(),
            deliveries_per_second: tally.stored as f64 / seconds,
            events_per_second: (tally.stored * plan.batch as u64) as f64 / seconds,
            latency: Latency::of(&tally.latency),
            usage,
        }
    }
}
