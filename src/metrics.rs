//! Metrics for `GET /metrics`, in the Prometheus (OpenMetrics) text format: deliveries by
//! outcome and reason, events by type, duplicates, latency, database pool use, and the days
//! left on each pinned certificate.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::auth::pins::CertSummary;

/// The content type of what [`Metrics::render`] returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    /// `stored`, `rejected` or `unavailable`.
    outcome: &'static str,
    /// `ok`, or the error code the delivery was answered with.
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    resource_type: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    subject: String,
    pin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    events: Family<EventLabels, Counter>,
    duplicates: Counter,
    latency: Histogram,
    pool: Family<PoolLabels, Gauge>,
    certificate_days: Family<CertificateLabels, Gauge<f64, AtomicU64>>,
    /// Serialises rendering, which sets the pool gauges just before encoding.
    render_lock: Mutex<()>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gocardless_webhooks");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Deliveries answered, by outcome and reason",
            deliveries.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events_stored",
            "Events stored for the first time, by resource type and action",
            events.clone(),
        );
        let duplicates = Counter::default();
        registry.register(
            "duplicate_events",
            "Events received again and not stored again",
            duplicates.clone(),
        );
        // 1 ms to about 16 s: GoCardless gives up at 10 s.
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "request_duration_seconds",
            "Time from request to answer on the webhook",
            latency.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "database_connections",
            "Database pool connections, by state (idle, in_use)",
            pool.clone(),
        );
        let certificate_days = Family::<CertificateLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "pinned_certificate_expiry_days",
            "Days until each pinned certificate expires (negative once expired)",
            certificate_days.clone(),
        );
        Metrics {
            registry,
            deliveries,
            events,
            duplicates,
            latency,
            pool,
            certificate_days,
            render_lock: Mutex::new(()),
        }
    }

    /// Counts an answered delivery. `reason` is `ok` or the error code sent.
    pub fn delivery(&self, outcome: &'static str, reason: &'static str, took: Duration) {
        self.deliveries
            .get_or_create(&DeliveryLabels { outcome, reason })
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    pub fn events_stored(&self, resource_type: &str, action: &str, count: u64) {
        let labels = EventLabels {
            resource_type: resource_type.to_owned(),
            action: action.to_owned(),
        };
        self.events.get_or_create(&labels).inc_by(count);
    }

    pub fn duplicates(&self, count: u64) {
        self.duplicates.inc_by(count);
    }

    /// Replaces the certificate gauges with the days left on each of `certificates` at `now`.
    pub fn pinned_certificates(&self, certificates: &[CertSummary], now: DateTime<Utc>) {
        self.certificate_days.clear();
        for certificate in certificates {
            let labels = CertificateLabels {
                subject: certificate.subject.clone(),
                pin: certificate.certificate_pin.to_string(),
            };
            if let Some(days) = days_left(certificate, now) {
                self.certificate_days.get_or_create(&labels).set(days);
            }
        }
    }

    /// The text exposition, with the pool gauges read now.
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let _guard = self
            .render_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let idle = i64::try_from(pool_idle).unwrap_or(i64::MAX);
        let in_use = i64::from(pool_size) - idle;
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(in_use.max(0));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Days from `now` until the certificate's notAfter, fractional.
pub fn days_left(certificate: &CertSummary, now: DateTime<Utc>) -> Option<f64> {
    let not_after = DateTime::parse_from_rfc3339(&certificate.not_after).ok()?;
    let left = not_after.with_timezone(&Utc) - now;
    Some(left.num_seconds() as f64 / 86_400.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_sequence_shows_up_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.delivery("stored", "ok", Duration::from_millis(3));
        metrics.delivery("stored", "ok", Duration::from_millis(5));
        metrics.delivery(
            "rejected",
            "client_certificate_not_pinned",
            Duration::from_millis(1),
        );
        metrics.events_stored("payments", "confirmed", 1);
        metrics.duplicates(2);

        let text = metrics.render(10, 7);

        for line in [
            "gocardless_webhooks_deliveries_total{outcome=\"stored\",reason=\"ok\"} 2",
            "gocardless_webhooks_deliveries_total{outcome=\"rejected\",\
             reason=\"client_certificate_not_pinned\"} 1",
            "gocardless_webhooks_events_stored_total{resource_type=\"payments\",\
             action=\"confirmed\"} 1",
            "gocardless_webhooks_duplicate_events_total 2",
            "gocardless_webhooks_request_duration_seconds_count 3",
            "gocardless_webhooks_database_connections{state=\"in_use\"} 3",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
