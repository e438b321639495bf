//! `gcw-loadgen`: the load side of `bench/run`. It sends signed deliveries over C keep-alive
//! connections (`http`), writes the same rows straight to MariaDB (`database`), and turns the
//! results file into tables (`report`). It talks to loopback addresses only.

mod db;
mod http;
mod load;
mod payload;
mod procstat;
mod record;
mod report;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use load::Plan;
use procstat::Group;
use record::Record;

/// No run, warm-up included, goes on longer than this, whatever it is asked.
const LONGEST_RUN: Duration = Duration::from_secs(600);
/// Nor sends more deliveries than this.
const MOST_DELIVERIES: u64 = 10_000_000;

/// A later option replaces an earlier one, so that a script can add to a common command line.
#[derive(Parser)]
#[command(version, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST signed deliveries to a receiver over C keep-alive connections.
    Http(HttpArgs),
    /// Write each delivery's rows straight to MariaDB over C connections.
    Database(DatabaseArgs),
    /// Print the results file as Markdown tables, with the ratios and targets.
    Report {
        /// The results file the runs appended to.
        results: PathBuf,
    },
    /// Fail unless every run in the results file stored deliveries and none failed.
    Check {
        /// The results file the runs appended to.
        results: PathBuf,
    },
}

/// What every run takes.
#[derive(Args)]
struct RunArgs {
    /// The configuration's name in the results, such as `full` or `flask`.
    #[arg(long)]
    config: String,
    /// Concurrent connections (C).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Events per delivery (B).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many deliveries, warm-up included.
    #[arg(long, default_value_t = 1_000_000)]
    max_deliveries: u64,
    /// Offer this many deliveries per second instead of as many as the target takes.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds after which an unanswered delivery counts as failed.
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
    /// Processes to measure, as NAME=PID,PID,... (repeatable); `self` is this program.
    #[arg(long = "watch", value_parser = Group::parse)]
    watch: Vec<Group>,
    /// Append the result, as a line of JSON, to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct HttpArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The webhook's URL, on a loopback address.
    #[arg(long)]
    url: String,
    /// The webhook secret to sign with.
    #[arg(long, env = "GOCARDLESS_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// CA that issued the server's certificate (with --cert and --key: HTTPS).
    #[arg(long, requires_all = ["cert", "key"])]
    ca: Option<PathBuf>,
    /// Client certificate to present.
    #[arg(long, requires = "ca")]
    cert: Option<PathBuf>,
    /// The client certificate's key.
    #[arg(long, requires = "ca")]
    key: Option<PathBuf>,
    /// Send this certificate in X-Client-Cert as nginx would (for the service alone).
    #[arg(long, conflicts_with = "ca")]
    forward_cert: Option<PathBuf>,
    /// The status that counts as stored.
    #[arg(long, default_value_t = 200)]
    expect: u16,
}

#[derive(Args)]
struct DatabaseArgs {
    #[command(flatten)]
    run: RunArgs,
    /// mysql://user:password@127.0.0.1:PORT/DATABASE, a database the service has migrated.
    #[arg(long)]
    database_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Http(args) => http(args).await,
        Command::Database(args) => database(args).await,
        Command::Report { results } => {
            print!("{}", report::markdown(&Record::read_all(&results)?));
            Ok(())
        }
        Command::Check { results } => check(&Record::read_all(&results)?),
    }
}

fn check(records: &[Record]) -> anyhow::Result<()> {
    let broken: Vec<String> = records
        .iter()
        .filter(|r| r.deliveries == 0 || r.failed() > 0)
        .map(|r| format!("{} at B = {}: {:?}", r.config, r.batch, r.failures))
        .collect();
    if records.is_empty() || !broken.is_empty() {
        bail!("runs that stored nothing or failed: {broken:?}");
    }
    println!(
        "all {} runs stored their deliveries without a failure",
        records.len()
    );
    Ok(())
}

async fn http(args: HttpArgs) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&args.url).context("--url is not a URL")?;
    check_loopback(url.host_str().unwrap_or_default())?;
    let tls = match (args.ca, args.cert, args.key) {
        (Some(ca), Some(cert), Some(key)) => Some(http::TlsFiles { ca, cert, key }),
        _ => None,
    };
    let target = http::Target {
        url: args.url,
        tls,
        forward_cert: args.forward_cert,
        secret: args.secret,
        expect: args.expect,
    };
    let workers = (0..args.run.connections)
        .map(|_| target.worker())
        .collect::<anyhow::Result<Vec<_>>>()?;
    measure(&args.run, workers).await
}

async fn database(args: DatabaseArgs) -> anyhow::Result<()> {
    let host = args
        .database_url
        .split_once('@')
        .and_then(|(_, rest)| rest.split([':', '/']).next())
        .unwrap_or_default();
    check_loopback(host)?;
    let mut workers = Vec::with_capacity(args.run.connections);
    for _ in 0..args.run.connections {
        workers.push(db::DbWorker::connect(&args.database_url).await?);
    }
    measure(&args.run, workers).await
}

async fn measure<W: load::Worker>(args: &RunArgs, workers: Vec<W>) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let record = load::run(
        &args.config,
        &plan,
        &payload::run_tag(),
        workers,
        &args.watch,
    )
    .await?;
    println!("{}", record.summary());
    if let Some(out) = &args.out {
        record.append_to(out)?;
    }
    Ok(())
}

fn plan(args: &RunArgs) -> anyhow::Result<Plan> {
    let seconds = |value: f64, name: &str| {
        Duration::try_from_secs_f64(value).with_context(|| format!("--{name} is not a duration"))
    };
    let plan = Plan {
        connections: args.connections,
        batch: args.batch,
        warmup: seconds(args.warmup, "warmup")?,
        duration: seconds(args.duration, "duration")?,
        max_deliveries: args.max_deliveries.min(MOST_DELIVERIES),
        rate: args.rate,
        timeout: seconds(args.timeout, "timeout")?,
    };
    if plan.warmup + plan.duration > LONGEST_RUN {
        bail!("a run may last {} s at most", LONGEST_RUN.as_secs());
    }
    if plan.connections == 0 || plan.batch == 0 {
        bail!("--connections and --batch must be at least 1");
    }
    if plan.rate.is_some_and(|rate| rate.is_nan() || rate <= 0.0) {
        bail!("--rate must be above 0");
    }
    Ok(plan)
}

/// Load goes to this machine only.
fn check_loopback(host: &str) -> anyhow::Result<()> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{host:?} is not a loopback address; the load generator only loads this machine");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_loaded() {
        for host in ["127.0.0.1", "127.8.0.1", "localhost", "[::1]", "::1"] {
            assert!(check_loopback(host).is_ok(), "{host}");
        }
        for host in ["10.0.0.1", "example.com", "169.254.169.254", "0.0.0.0", ""] {
            assert!(check_loopback(host).is_err(), "{host}");
        }
    }
}
