//! The results file as Markdown: one table of throughput and latency, one of cost, the ratios
//! the targets are stated in, and each target with whether these numbers meet it.

use std::fmt::Write as _;

use crate::record::Record;

/// The configurations, in the order the tables list them.
const CONFIGS: [(&str, &str); 7] = [
    ("proxy", "proxy ceiling (nginx answers 204)"),
    ("database", "database ceiling (rows straight to MariaDB)"),
    ("database-1", "database ceiling, one connection"),
    ("full", "full path (nginx, service, MariaDB)"),
    ("full-half", "full path at half its peak rate"),
    ("alone", "service alone (no nginx)"),
    ("flask", "Flask baseline behind nginx"),
];

/// Whose CPU and memory count as the receiver's in each configuration.
fn receiver(config: &str) -> Option<&'static str> {
    match config {
        "full" | "full-half" | "alone" => Some("service"),
        "flask" => Some("flask"),
        "database" | "database-1" => Some("loadgen"),
        _ => None,
    }
}

const MIB: f64 = 1024.0;

pub fn markdown(records: &[Record]) -> String {
    let mut out = String::new();
    let mut batches: Vec<usize> = records.iter().map(|r| r.batch).collect();
    batches.sort_unstable();
    batches.dedup();

    throughput_table(&mut out, records, &batches);
    cost_table(&mut out, records, &batches);
    ratio_table(&mut out, records, &batches);
    targets(&mut out, records, &batches);
    out
}

fn find<'a>(records: &'a [Record], config: &str, batch: usize) -> Option<&'a Record> {
    records
        .iter()
        .rev()
        .find(|r| r.config == config && r.batch == batch)
}

fn throughput_table(out: &mut String, records: &[Record], batches: &[usize]) {
    out.push_str(
        "| B | configuration | C | deliveries/s | events/s | p50 ms | p99 ms | p99.9 ms | max ms \
         | failed |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for &batch in batches {
        for (config, label) in CONFIGS {
            let Some(r) = find(records, config, batch) else {
                continue;
            };
            let connections = match r.offered_rate {
                Some(rate) => format!("{} at {rate:.0}/s", r.connections),
                None => r.connections.to_string(),
            };
            let _ = writeln!(
                out,
                "| {batch} | {label} | {connections} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | \
                 {:.1} | {} |",
                r.deliveries_per_second,
                r.events_per_second,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.latency.p999_ms,
                r.latency.max_ms,
                r.failed()
            );
        }
    }
    out.push('\n');
}

fn cost_table(out: &mut String, records: &[Record], batches: &[usize]) {
    out.push_str(
        "CPU seconds per 1,000 deliveries, and peak resident memory (VmHWM) of the receiver \
         (the service; gunicorn's master and workers for Flask; the load generator itself for \
         the database ceiling).\n\n\
         | B | configuration | receiver CPU s | receiver idle MiB | receiver peak MiB | nginx CPU \
         s | MariaDB CPU s | load generator CPU s |\n|---|---|---|---|---|---|---|---|\n",
    );
    let cpu = |r: &Record, name: Option<&str>| {
        name.and_then(|name| r.cpu_per_1000(name))
            .map_or("-".to_owned(), |cpu| format!("{cpu:.3}"))
    };
    for &batch in batches {
        for (config, _) in CONFIGS {
            let Some(r) = find(records, config, batch) else {
                continue;
            };
            let usage = receiver(config).and_then(|name| r.usage(name));
            let mib =
                |kib: Option<u64>| kib.map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / MIB));
            let _ = writeln!(
                out,
                "| {batch} | {config} | {} | {} | {} | {} | {} | {} |",
                cpu(r, receiver(config)),
                mib(usage.map(|u| u.idle_rss_kib)),
                mib(usage.map(|u| u.peak_rss_kib)),
                cpu(r, Some("nginx")),
                cpu(r, Some("mariadb")),
                cpu(r, Some("loadgen")),
            );
        }
    }
    out.push('\n');
}

/// full / min(proxy, database) and full / Flask, per B.
fn ratio_table(out: &mut String, records: &[Record], batches: &[usize]) {
    out.push_str(
        "| B | full / min(proxy, database) | full / Flask, deliveries/s | service peak RSS / \
         Flask peak RSS |\n|---|---|---|---|\n",
    );
    for &batch in batches {
        let _ = writeln!(
            out,
            "| {batch} | {} | {} | {} |",
            show(ceiling_ratio(records, batch)),
            show(flask_ratio(records, batch)),
            show(memory_ratio(records, batch)),
        );
    }
    out.push('\n');
}

fn show(ratio: Option<f64>) -> String {
    ratio.map_or("-".to_owned(), |r| format!("{r:.2}"))
}

fn rate(records: &[Record], config: &str, batch: usize) -> Option<f64> {
    find(records, config, batch).map(|r| r.deliveries_per_second)
}

fn ceiling_ratio(records: &[Record], batch: usize) -> Option<f64> {
    let ceiling = rate(records, "proxy", batch)?.min(rate(records, "database", batch)?);
    Some(rate(records, "full", batch)? / ceiling)
}

fn flask_ratio(records: &[Record], batch: usize) -> Option<f64> {
    Some(rate(records, "full", batch)? / rate(records, "flask", batch)?)
}

fn memory_ratio(records: &[Record], batch: usize) -> Option<f64> {
    let service = find(records, "full", batch)?.usage("service")?.peak_rss_kib;
    let flask = find(records, "flask", batch)?.usage("flask")?.peak_rss_kib;
    Some(service as f64 / flask as f64)
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

fn targets(out: &mut String, records: &[Record], batches: &[usize]) {
    out.push_str("| target | measured | |\n|---|---|---|\n");
    let mut row = |target: &str, measured: String, met: Option<bool>| {
        let _ = writeln!(out, "| {target} | {measured} | {} |", verdict(met));
    };

    let ceiling = ceiling_ratio(records, 1);
    row(
        "full path at B = 1 at least 0.8 of min(proxy, database)",
        show(ceiling),
        ceiling.map(|r| r >= 0.8),
    );

    for &batch in batches {
        let half = find(records, "full-half", batch).map(|r| r.latency.p99_ms);
        row(
            &format!("p99 at half the full path's peak, B = {batch}, under 25 ms"),
            half.map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
            half.map(|ms| ms < 25.0),
        );
    }

    let worst = records
        .iter()
        .filter(|r| receiver(&r.config) == Some("service"))
        .map(|r| r.latency.max_ms)
        .fold(None, |worst: Option<f64>, ms| {
            Some(worst.map_or(ms, |w| w.max(ms)))
        });
    row(
        "no delivery near GoCardless's 10 s (largest latency of any service run under 5 s)",
        worst.map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
        worst.map(|ms| ms < 5000.0),
    );

    for &batch in batches {
        let speed = flask_ratio(records, batch);
        let memory = memory_ratio(records, batch);
        row(
            &format!(
                "B = {batch}: at least 10 times Flask's deliveries/s, at a quarter of its memory"
            ),
            format!("{} times, {} of its memory", show(speed), show(memory)),
            speed.zip(memory).map(|(s, m)| s >= 10.0 && m <= 0.25),
        );
    }

    let per_event = find(records, "full", 250)
        .and_then(|r| r.cpu_per_1000("service"))
        .map(|cpu| cpu / 250.0);
    let per_delivery = find(records, "full", 1).and_then(|r| r.cpu_per_1000("service"));
    let cost = per_event.zip(per_delivery).map(|(e, d)| e / d);
    row(
        "service CPU per event at B = 250 at most 1/20 of per delivery at B = 1",
        cost.map_or("-".to_owned(), |c| format!("1/{:.1}", 1.0 / c)),
        cost.map(|c| c <= 0.05),
    );
    // The same target seen from the whole path: the time an event takes at B = 250 against
    // the time a delivery takes at B = 1, when the machine is saturated either way.
    let events = find(records, "full", 250).map(|r| r.events_per_second);
    let deliveries = rate(records, "full", 1);
    let speedup = events.zip(deliveries).map(|(e, d)| e / d);
    row(
        "full path's time per event at B = 250 at most 1/20 of per delivery at B = 1",
        speedup.map_or("-".to_owned(), |s| format!("1/{s:.1}")),
        speedup.map(|s| s >= 20.0),
    );

    let services = || {
        records
            .iter()
            .filter(|r| r.config == "full" || r.config == "alone")
            .filter_map(|r| r.usage("service"))
    };
    let peak = services().map(|u| u.peak_rss_kib).max();
    let idle = services().map(|u| u.idle_rss_kib).max();
    let mib =
        |kib: Option<u64>| kib.map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / MIB));
    row(
        "service RSS under 64 MiB at peak load",
        mib(peak),
        peak.map(|k| (k as f64) < 64.0 * MIB),
    );
    row(
        "service RSS under 20 MiB idle (after start-up, before the first delivery)",
        mib(idle),
        idle.map(|k| (k as f64) < 20.0 * MIB),
    );
    out.push('\n');
}
