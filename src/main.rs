//! The command line: parse it, load the settings, hand over to the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use gocardless_webhooks::api::spec::Spec;
use gocardless_webhooks::auth::pins::{self, CertSummary};
use gocardless_webhooks::config::Settings;
use gocardless_webhooks::devtools::{dev_certs, send_test};
use gocardless_webhooks::inspect::{self, Format};
use gocardless_webhooks::store::{EventFilter, Store};
use gocardless_webhooks::{server, telemetry};

/// Receives GoCardless webhooks for Payymo and stores each event exactly once.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Rebuild Payymo's typed tables by re-applying the stored events in created_at order.
    Replay,
    /// Look at stored events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Look at stored deliveries and how each was verified.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Print the OpenAPI spec (YAML) that the service serves at /openapi.yaml, with the
    /// default certificate header names.
    Openapi {
        /// Print JSON instead, as served at /openapi.json.
        #[arg(long)]
        json: bool,
    },
    /// Print each certificate in a PEM file with the pins that accept it.
    Fingerprint {
        /// PEM file with one or more certificates.
        file: PathBuf,
    },
    /// Play GoCardless: POST a sample delivery over HTTPS with a client certificate.
    SendTest(send_test::SendTestArgs),
    /// Write a throwaway CA, a server certificate for localhost, and a client certificate
    /// and key signed by the CA: ca.pem, ca.key, server.pem, server.key, client.pem, client.key.
    DevCerts {
        /// Directory to write them to (created if missing).
        dir: PathBuf,
        /// Replace files that are already there.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// List events, newest first.
    List {
        /// Only this resource type, such as `payments`.
        #[arg(long)]
        resource_type: Option<String>,
        /// Only this action, such as `confirmed`.
        #[arg(long)]
        action: Option<String>,
        /// Only events about this resource id, such as `PM0123`.
        #[arg(long)]
        resource_id: Option<String>,
        #[command(flatten)]
        listing: Listing,
    },
    /// Print one event with the JSON it arrived as.
    Show {
        /// GoCardless's event id.
        event_id: String,
    },
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        listing: Listing,
    },
}

/// Options every listing takes.
#[derive(clap::Args)]
struct Listing {
    /// Only from this time on: RFC 3339, or a date (midnight UTC).
    #[arg(long, value_parser = inspect::parse_since)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => run(serve()),
        Command::Migrate => run(migrate()),
        Command::Replay => run(replay()),
        Command::Events(command) => run(events(command)),
        Command::Deliveries(DeliveriesCommand::List { listing }) => run(deliveries(listing)),
        Command::Openapi { json } => {
            let spec = Spec::default();
            print!("{}", if json { spec.json() } else { spec.yaml() });
            Ok(())
        }
        Command::Fingerprint { file } => fingerprint(&file),
        Command::SendTest(args) => run(send_test::run(args)),
        Command::DevCerts { dir, force } => write_dev_certs(&dir, force),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause once: many of ours already name their cause.
fn describe(err: &anyhow::Error) -> String {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    message
}

fn run(task: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    telemetry::init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(task)
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    server::serve(settings).await
}

async fn migrate() -> anyhow::Result<()> {
    let store = Store::connect(&Settings::database_url_from_env()).await?;
    store.migrate().await?;
    store.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

async fn replay() -> anyhow::Result<()> {
    let store = Store::connect(&Settings::database_url_from_env()).await?;
    store.migrate().await?;
    let bar = indicatif::ProgressBar::new(store.replayable_events().await?);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} events ({per_sec}, {eta} left)",
    )?);
    let summary = store.replay(|read| bar.set_position(read)).await?;
    bar.finish();
    store.close().await;
    println!(
        "replayed {} events: {} transactions, {} account updates, {} revocations; {} skipped",
        summary.read, summary.transactions, summary.accounts, summary.connections, summary.skipped
    );
    Ok(())
}

async fn events(command: EventsCommand) -> anyhow::Result<()> {
    let store = Store::connect(&Settings::database_url_from_env()).await?;
    match command {
        EventsCommand::List {
            resource_type,
            action,
            resource_id,
            listing,
        } => {
            let filter = EventFilter {
                resource_type,
                action,
                resource_id,
                since: listing.since,
                limit: listing.limit,
            };
            let events = store.list_events(&filter).await?;
            print!("{}", inspect::events(&events, listing.format));
        }
        EventsCommand::Show { event_id } => match store.event(&event_id).await? {
            Some(event) => println!("{}", inspect::json(&event)),
            None => anyhow::bail!("no stored event has id {event_id:?}"),
        },
    }
    store.close().await;
    Ok(())
}

async fn deliveries(listing: Listing) -> anyhow::Result<()> {
    let store = Store::connect(&Settings::database_url_from_env()).await?;
    let deliveries = store.list_deliveries(listing.since, listing.limit).await?;
    print!("{}", inspect::deliveries(&deliveries, listing.format));
    store.close().await;
    Ok(())
}

fn fingerprint(file: &PathBuf) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.display()))?;
    let certificates = pins::load_certificates(&text)?;
    for (index, (certificate, der)) in certificates.iter().enumerate() {
        if index > 0 {
            println!();
        }
        println!("{}", CertSummary::of(certificate, der)?);
    }
    Ok(())
}

fn write_dev_certs(dir: &Path, force: bool) -> anyhow::Result<()> {
    for path in dev_certs::write_dev_certs(dir, force)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
