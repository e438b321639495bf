//! `POST /api/gocardless/webhook`: check the sender, read and check the body, store, answer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use poem::http::{header, HeaderMap, StatusCode};
use poem::web::RemoteAddr;
use poem::{Body, Request, RequestBody};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object};
use poem_openapi::{OpenApi, Tags};
use sha2::{Digest, Sha256};
use tracing::{info, warn, Instrument};

use super::error::{ErrorBody, Rejection};
use super::schema;
use crate::auth::origin::GoCardlessEnvironment;
use crate::auth::sender::SenderPolicy;
use crate::auth::signature::{Secrets, SIGNATURE_HEADER};
use crate::config::Environment;
use crate::events;
use crate::metrics::Metrics;
use crate::store::{NewDelivery, Saved, Store, Verification};

/// GoCardless gives up after 10 seconds; answering 503 before that lets it retry sooner.
const STORE_TIMEOUT: Duration = Duration::from_secs(8);
/// A body still arriving after this long comes from no sender worth waiting for: GoCardless
/// gives up after 10 seconds, and nginx passes a body on only once it has all of it.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a client is asked to wait after a 503.
const RETRY_AFTER_SECONDS: u32 = 30;
/// GoCardless's "498 Token Invalid", for a signature that does not verify.
const SIGNATURE_INVALID: StatusCode = match StatusCode::from_u16(498) {
    Ok(status) => status,
    Err(_) => panic!("498 is a valid status code"),
};
/// The header nginx fills with its request id.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// What the webhook needs from the rest of the service.
pub struct WebhookApi {
    pub policy: SenderPolicy,
    pub secrets: Secrets,
    pub gocardless_environment: Option<GoCardlessEnvironment>,
    pub environment: Environment,
    pub max_body_bytes: usize,
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

#[derive(Tags)]
enum WebhookTags {
    /// Deliveries from GoCardless.
    Webhooks,
}

/// How many of a delivery's events were new.
#[derive(Object, Debug)]
pub struct Accepted {
    /// Events stored for the first time by this delivery.
    pub accepted: u64,
    /// Events already stored by an earlier delivery (or earlier in this one), not stored again.
    pub duplicates: u64,
}

#[derive(ApiResponse)]
pub enum WebhookResponse {
    /// Stored and committed: `accepted` events are new, `duplicates` were stored before.
    #[oai(status = 200)]
    Stored(Json<Accepted>),
    /// `malformed_json`, `body_not_utf8` or `body_unreadable`: the body is not readable JSON
    /// (nesting deeper than 128 levels counts as unreadable); or `client_certificate_malformed`:
    /// the certificate header cannot be decoded.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// `client_certificate_missing`: no client certificate came with the delivery.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The sender is not believed: `untrusted_proxy`, `client_certificate_not_verified`,
    /// `client_certificate_not_pinned`, `client_certificate_expired`,
    /// `client_certificate_not_yet_valid` or `wrong_gocardless_environment`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// `body_too_large`: the body is larger than `MAX_BODY_BYTES` (1 MiB unless configured).
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// `body_timeout`: the body did not arrive in full within 10 seconds.
    #[oai(status = 408)]
    Timeout(Json<ErrorBody>),
    /// `unsupported_media_type`: `Content-Type` is not `application/json` in UTF-8.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// `invalid_payload`: the JSON breaks the schema; the message names the field, such as
    /// `events[0].resource.amount`. Nothing of the delivery is stored.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// `signature_missing`, `signature_malformed` or `signature_mismatch`: `Webhook-Signature`
    /// does not verify the body (GoCardless's "Token Invalid").
    #[oai(status = 498)]
    SignatureInvalid(Json<ErrorBody>),
    /// `database_unavailable`: nothing was stored; retry after `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u32,
    ),
}

impl From<Rejection> for WebhookResponse {
    fn from(rejection: Rejection) -> Self {
        let body = Json(rejection.body());
        match rejection.status {
            StatusCode::UNAUTHORIZED => WebhookResponse::Unauthorized(body),
            StatusCode::FORBIDDEN => WebhookResponse::Forbidden(body),
            StatusCode::PAYLOAD_TOO_LARGE => WebhookResponse::TooLarge(body),
            StatusCode::REQUEST_TIMEOUT => WebhookResponse::Timeout(body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => WebhookResponse::UnsupportedMediaType(body),
            StatusCode::UNPROCESSABLE_ENTITY => WebhookResponse::Invalid(body),
            status if status == SIGNATURE_INVALID => WebhookResponse::SignatureInvalid(body),
            StatusCode::SERVICE_UNAVAILABLE => {
                WebhookResponse::Unavailable(body, RETRY_AFTER_SECONDS)
            }
            _ => WebhookResponse::BadRequest(body),
        }
    }
}

#[OpenApi(tag = "WebhookTags::Webhooks")]
impl WebhookApi {
    /// Receive a GoCardless delivery: check the sender, validate the events, store them once.
    #[oai(
        path = "/api/gocardless/webhook",
        method = "post",
        operation_id = "receive_webhook"
    )]
    async fn receive(&self, request: &Request, body: RawBody) -> WebhookResponse {
        let peer = peer_ip(request);
        let request_id = self.request_id(request, peer);
        let span = tracing::info_span!(
            "delivery",
            request_id = %request_id,
            peer = %peer.map_or_else(|| "-".into(), |ip| ip.to_string()),
            webhook_id = tracing::field::Empty,
            events = tracing::field::Empty,
            delivery_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = self
            .handle(request, body.0, peer, &request_id)
            .instrument(span.clone())
            .await;
        match &outcome {
            Ok(saved) => span
                .record("outcome", "stored")
                .record("delivery_id", saved.delivery_id),
            Err(rejection) => span.record("outcome", rejection.code),
        };
        self.count(&outcome, started.elapsed());
        match outcome {
            Ok(saved) => WebhookResponse::Stored(Json(Accepted {
                accepted: saved.accepted as u64,
                duplicates: saved.duplicates as u64,
            })),
            Err(rejection) => rejection.into(),
        }
    }
}

impl WebhookApi {
    fn count(&self, outcome: &Result<Saved, Rejection>, took: Duration) {
        match outcome {
            Ok(saved) => {
                self.metrics.delivery("stored", "ok", took);
                self.metrics.duplicates(saved.duplicates as u64);
                for ((resource_type, action), count) in &saved.new_by_type {
                    self.metrics.events_stored(resource_type, action, *count);
                }
            }
            Err(rejection) if rejection.status == StatusCode::SERVICE_UNAVAILABLE => {
                self.metrics.delivery("unavailable", rejection.code, took);
            }
            Err(rejection) => self.metrics.delivery("rejected", rejection.code, took),
        }
    }

    async fn handle(
        &self,
        request: &Request,
        body: Body,
        peer: Option<IpAddr>,
        request_id: &str,
    ) -> Result<Saved, Rejection> {
        let headers = request.headers();
        let mut verification = Verification::default();
        if self.checks_certificates() {
            self.check_certificate(headers, peer, &mut verification)?;
        }
        let origin = GoCardlessEnvironment::from_origin(
            headers.get(header::ORIGIN).map(|value| value.as_bytes()),
        );
        self.check_origin(origin, &mut verification)?;
        check_content_type(headers).inspect_err(log_rejection)?;
        let bytes = self
            .read_body(headers, body)
            .await
            .inspect_err(log_rejection)?;
        if !self.secrets.is_empty() {
            self.check_signature(headers, &bytes, &mut verification)?;
        }
        let delivery = events::parse(&bytes)
            .map_err(Rejection::from)
            .inspect_err(log_rejection)?;

        let span = tracing::Span::current();
        span.record("events", delivery.events.len());
        if let Some(webhook_id) = &delivery.webhook_id {
            span.record("webhook_id", webhook_id.as_str());
        }

        let new_delivery = NewDelivery {
            received_at: Utc::now(),
            webhook_id: delivery.webhook_id.as_deref(),
            body_sha256: hex::encode(Sha256::digest(&bytes)),
            verification,
            gocardless_environment: origin.map(GoCardlessEnvironment::as_str),
            peer_addr: peer.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
            request_id,
            events: &delivery.events,
        };
        let saved = self.store(&new_delivery).await?;
        for conflict in &saved.conflicts {
            warn!(
                event_id = %conflict.0,
                "conflicting duplicate: event already stored with other content; kept the first"
            );
        }
        info!(
            accepted = saved.accepted,
            duplicates = saved.duplicates,
            delivery_id = saved.delivery_id,
            "delivery stored"
        );
        Ok(saved)
    }

    /// Certificates are checked when pins are configured, and also when nothing else is, so
    /// that development mode records why each delivery would have been rejected.
    fn checks_certificates(&self) -> bool {
        !self.policy.pins.current().is_empty() || self.secrets.is_empty()
    }

    fn check_certificate(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        verification: &mut Verification,
    ) -> Result<(), Rejection> {
        match self.policy.check(peer, headers, SystemTime::now()) {
            Ok(sender) => {
                verification.matched_pin = Some(sender.pin);
                Ok(())
            }
            Err(reason) => self.reject_or_record(Rejection::from(&reason), verification),
        }
    }

    fn check_origin(
        &self,
        origin: Option<GoCardlessEnvironment>,
        verification: &mut Verification,
    ) -> Result<(), Rejection> {
        let Some(required) = self.gocardless_environment else {
            return Ok(());
        };
        if origin == Some(required) {
            return Ok(());
        }
        let came_from = origin.map_or("an unknown Origin", GoCardlessEnvironment::as_str);
        let rejection = Rejection::new(
            StatusCode::FORBIDDEN,
            "wrong_gocardless_environment",
            format!(
                "delivery came from {came_from}, but only {} ({}) is accepted",
                required.as_str(),
                required.origin()
            ),
        );
        self.reject_or_record(rejection, verification)
    }

    fn check_signature(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        verification: &mut Verification,
    ) -> Result<(), Rejection> {
        let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
        match self.secrets.verify(body, signature) {
            Ok(()) => {
                verification.signature_valid = true;
                Ok(())
            }
            Err(err) => {
                let rejection = Rejection::new(SIGNATURE_INVALID, err.code(), err.to_string());
                self.reject_or_record(rejection, verification)
            }
        }
    }

    /// Production rejects a delivery that fails a sender check; development stores it marked
    /// unverified, with the reason, and says so in the log.
    fn reject_or_record(
        &self,
        rejection: Rejection,
        verification: &mut Verification,
    ) -> Result<(), Rejection> {
        if self.environment == Environment::Development {
            warn!(
                reason = %rejection.message,
                "development mode: accepting a delivery that production would reject"
            );
            verification.failures.push(rejection.message);
            Ok(())
        } else {
            log_rejection(&rejection);
            Err(rejection)
        }
    }

    async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Rejection> {
        let too_large = || {
            Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("body is larger than {} bytes", self.max_body_bytes),
            )
        };
        // A declared length over the limit is refused before a byte of the body is read.
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        let read = tokio::time::timeout(BODY_TIMEOUT, body.into_bytes_limit(self.max_body_bytes));
        let Ok(read) = read.await else {
            return Err(Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive in full within {} seconds",
                    BODY_TIMEOUT.as_secs()
                ),
            ));
        };
        match read {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(poem::error::ReadBodyError::PayloadTooLarge) => Err(too_large()),
            Err(err) => Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("the body could not be read: {err}"),
            )),
        }
    }

    async fn store(&self, delivery: &NewDelivery<'_>) -> Result<Saved, Rejection> {
        let unavailable = || {
            Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the delivery could not be stored; nothing was kept, retry later",
            )
        };
        match tokio::time::timeout(STORE_TIMEOUT, self.store.save(delivery)).await {
            Ok(Ok(saved)) => Ok(saved),
            Ok(Err(err)) => {
                tracing::error!(error = %err, "database fault; answering 503");
                Err(unavailable())
            }
            Err(_) => {
                tracing::error!(timeout = ?STORE_TIMEOUT, "database too slow; answering 503");
                Err(unavailable())
            }
        }
    }

    /// The proxy's request id when a trusted proxy sent one, so that log lines on both sides
    /// match; otherwise a new one.
    fn request_id(&self, request: &Request, peer: Option<IpAddr>) -> String {
        let from_proxy = peer
            .filter(|ip| self.policy.is_trusted(*ip))
            .and_then(|_| request.headers().get(REQUEST_ID_HEADER))
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_plain_request_id(id));
        from_proxy.map_or_else(new_request_id, str::to_owned)
    }
}

/// Up to 128 letters, digits and `.`, `_`, `:` or `-`: what nginx's `$request_id` and common
/// tracing ids use, and nothing that could forge a field in a text log line.
fn is_plain_request_id(id: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    (1..=128).contains(&id.len()) && id.chars().all(plain)
}

fn log_rejection(rejection: &Rejection) {
    warn!(
        status = rejection.status.as_u16(),
        error = rejection.code,
        "delivery rejected: {}",
        rejection.message
    );
}

/// JSON, in UTF-8: `application/json`, with or without `charset=utf-8`.
fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let unsupported = |message: String| {
        Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("Content-Type must be application/json".into()));
    };
    let value = value.to_str().unwrap_or_default();
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(unsupported(format!(
            "Content-Type must be application/json, not {:?}",
            truncate(essence, 80)
        )));
    }
    for parameter in parts.filter(|p| !p.is_empty()) {
        let (name, charset) = parameter.split_once('=').unwrap_or((parameter, ""));
        let charset = charset.trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset")
            && !charset.eq_ignore_ascii_case("utf-8")
            && !charset.eq_ignore_ascii_case("utf8")
        {
            return Err(unsupported(format!(
                "JSON must be UTF-8, not charset {:?}",
                truncate(charset, 40)
            )));
        }
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(at, _)| &text[..at])
}

/// The address of the socket's other end: the only source of the peer's identity.
fn peer_ip(request: &Request) -> Option<IpAddr> {
    match request.remote_addr() {
        RemoteAddr(poem::Addr::SocketAddr(addr)) => Some(addr.ip()),
        _ => None,
    }
}

fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("gcw-{:x}-{micros:x}-{sequence:x}", std::process::id())
}

/// The webhook's body, untouched: it is read only once the sender has been checked.
pub struct RawBody(Body);

impl<'a> ApiExtractor<'a> for RawBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        schema::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "A GoCardless delivery: an envelope of one or more events. Choose an example \
                 to fill it in.",
            ),
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: MetaSchemaRef::Reference(schema::ENVELOPE.to_owned()),
            }],
            required: true,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(RawBody(body.take()?))
    }
}
