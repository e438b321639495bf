//! Start-up and shutdown: connect, migrate, log what is in force, serve until told to stop.

use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::Server;
use tracing::{info, warn};

use crate::api::{self, WebhookApi};
use crate::auth::sender::{LivePins, SenderPolicy};
use crate::config::{Environment, Settings};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::telemetry::redact_url;
use crate::watch::CertificateWatch;

/// How long deliveries in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    log_settings(&settings);
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;

    let pins = LivePins::new(settings.pins.clone());
    let metrics = Arc::new(Metrics::new());
    let certificates = settings.pinned_certificates.clone();
    CertificateWatch::new(pins.clone(), certificates, metrics.clone()).spawn();

    let webhook = WebhookApi {
        policy: SenderPolicy {
            trusted_proxies: settings.trusted_proxies.clone(),
            cert_header: settings.client_cert_header.clone(),
            verify_header: settings.client_verify_header.clone(),
            pins,
        },
        secrets: settings.secrets.clone(),
        gocardless_environment: settings.gocardless_environment,
        metrics,
        environment: settings.environment,
        max_body_bytes: settings.max_body_bytes,
        store: store.clone(),
    };
    let app = api::app(webhook, store.clone(), settings.admin_token.clone());

    let acceptor = TcpListener::bind(settings.listen_addr)
        .into_acceptor()
        .await?;
    if let Some(addr) = acceptor.local_addr().first() {
        info!(addr = %addr, "listening");
    }
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(SHUTDOWN_GRACE))
        .await?;

    store.close().await;
    info!("stopped");
    Ok(())
}

fn log_settings(settings: &Settings) {
    let pins: Vec<String> = settings.pins.pins().map(ToString::to_string).collect();
    let proxies: Vec<String> = settings
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    info!(
        environment = settings.environment.as_str(),
        store = %redact_url(&settings.database_url),
        pins = ?pins,
        signing_secrets = settings.secrets.len(),
        gocardless_environment = settings.gocardless_environment.map_or("any", |e| e.as_str()),
        trusted_proxies = ?proxies,
        cert_header = %settings.client_cert_header,
        verify_header = %settings.client_verify_header,
        max_body_bytes = settings.max_body_bytes,
        "starting"
    );
    for cert in &settings.pinned_certificates {
        info!(
            subject = %cert.subject,
            not_after = %cert.not_after,
            pin = %cert.certificate_pin,
            "pinned certificate"
        );
    }
    for doubt in settings.doubtful() {
        warn!("configuration: {doubt}");
    }
    if settings.environment == Environment::Development {
        warn!(
            "DEVELOPMENT MODE: deliveries that fail the sender checks are stored marked \
             'unverified' instead of being rejected; never run this in production"
        );
    }
}

/// Resolves at SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called, not
/// when the future is first polled: from then on SIGTERM no longer kills the process outright,
/// so one that arrives while the service starts up stops it gracefully once it serves.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        #[cfg(unix)]
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        info!("shutting down: finishing deliveries in flight");
    }
}
