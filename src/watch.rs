//! Keeping the pinned certificates current: re-read them on SIGHUP, so that an operator can
//! pin GoCardless's next certificate before the switch, and warn before one expires.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use tracing::{info, warn};

use crate::auth::pins::CertSummary;
use crate::auth::sender::LivePins;
use crate::config::Settings;
use crate::metrics::{days_left, Metrics};

/// A pinned certificate this close to its end is warned about.
const WARN_DAYS: f64 = 30.0;
/// How often the expiry warning is repeated.
const CHECK_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The pins in force, the certificates they came from, and where their expiry is reported.
#[derive(Clone)]
pub struct CertificateWatch {
    pub pins: LivePins,
    pub certificates: Arc<RwLock<Vec<CertSummary>>>,
    pub metrics: Arc<Metrics>,
}

impl CertificateWatch {
    pub fn new(pins: LivePins, certificates: Vec<CertSummary>, metrics: Arc<Metrics>) -> Self {
        CertificateWatch {
            pins,
            certificates: Arc::new(RwLock::new(certificates)),
            metrics,
        }
    }

    /// Starts the SIGHUP listener and the daily expiry check.
    pub fn spawn(self) {
        self.check_expiry();
        let daily = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECK_EVERY);
            ticks.tick().await; // the first tick is immediate; start-up already checked
            loop {
                ticks.tick().await;
                daily.check_expiry();
            }
        });
        #[cfg(unix)]
        tokio::spawn(self.reload_on_hangup());
    }

    #[cfg(unix)]
    async fn reload_on_hangup(self) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                warn!(error = %err, "cannot listen for SIGHUP; pins reload only on restart");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            self.reload();
        }
    }

    /// Reads the certificate file and pins again. A set that cannot be read, or that would
    /// pin nothing where something was pinned, leaves the old set in force.
    pub fn reload(&self) {
        let (pins, certificates) = match Settings::pins_from_env() {
            Ok(loaded) => loaded,
            Err(err) => {
                warn!(error = %err, "SIGHUP: pins not reloaded; the previous set stays in force");
                return;
            }
        };
        if pins.is_empty() && !self.pins.current().is_empty() {
            warn!("SIGHUP: the new configuration pins nothing; the previous set stays in force");
            return;
        }
        let shown: Vec<String> = pins.pins().map(ToString::to_string).collect();
        self.pins.replace(pins);
        *self.certificates.write().unwrap_or_else(|p| p.into_inner()) = certificates;
        info!(pins = ?shown, "SIGHUP: pins reloaded");
        self.check_expiry();
    }

    /// Updates the expiry gauges and warns about each certificate close to its end.
    pub fn check_expiry(&self) {
        let certificates = self.certificates.read().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        self.metrics.pinned_certificates(&certificates, now);
        for certificate in certificates.iter() {
            let Some(days) = days_left(certificate, now) else {
                continue;
            };
            if days < 0.0 {
                tracing::error!(
                    subject = %certificate.subject,
                    not_after = %certificate.not_after,
                    pin = %certificate.certificate_pin,
                    "pinned certificate has expired: deliveries presenting it are rejected; \
                     pin GoCardless's current certificate"
                );
            } else if days < WARN_DAYS {
                warn!(
                    subject = %certificate.subject,
                    not_after = %certificate.not_after,
                    pin = %certificate.certificate_pin,
                    days_left = days.floor(),
                    "pinned certificate expires soon: pin GoCardless's next certificate"
                );
            }
        }
    }
}
