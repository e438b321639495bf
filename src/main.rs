//! The command line: parse it, load the settings, hand over to the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use gocardless_webhooks::api::spec::Spec;
use gocardless_webhooks::auth::pins::{self, CertSummary};
use gocardless_webhooks::config::Settings;
use gocardless_webhooks::devtools::{dev_certs, send_test};
use gocardless_webhooks::store::Store;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => run(serve()),
        Command::Migrate => run(migrate()),
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
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
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
