//! The sender check: was this delivery forwarded by our proxy, with a pinned, current certificate?
//!
//! The checks run in a fixed order, and the first that fails decides the answer. Only headers
//! are looked at, so a stranger's body is never read.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use ipnet::IpNet;
use poem::http::{HeaderMap, HeaderName, StatusCode};

use super::forwarded::{self, DecodeError};
use super::pins::{self, PinSet, ValidityError};

/// What nginx puts in the verify header when the client certificate checked out.
const VERIFY_SUCCESS: &str = "SUCCESS";
/// What nginx puts there when the client presented no certificate.
const VERIFY_NONE: &str = "NONE";

/// Trusted proxies, header names and pins: everything the sender check needs.
#[derive(Clone, Debug)]
pub struct SenderPolicy {
    pub trusted_proxies: Vec<IpNet>,
    pub cert_header: HeaderName,
    pub verify_header: HeaderName,
    pub pins: LivePins,
}

/// The pinned set in force, replaceable while requests are being checked (on SIGHUP).
#[derive(Clone, Debug, Default)]
pub struct LivePins(Arc<RwLock<Arc<PinSet>>>);

impl LivePins {
    pub fn new(pins: PinSet) -> Self {
        LivePins(Arc::new(RwLock::new(Arc::new(pins))))
    }

    /// The set in force now; a request keeps the set it started with.
    pub fn current(&self) -> Arc<PinSet> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    pub fn replace(&self, pins: PinSet) {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(pins);
    }
}

/// A sender that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSender {
    /// The pin that matched, as an operator would write it in the configuration.
    pub pin: String,
    pub subject: String,
}

/// Why a sender is not believed. Each variant is one of the ordered checks.
#[derive(Debug, thiserror::Error)]
pub enum SenderRejection {
    #[error("peer {peer} is not a trusted proxy but sent a client certificate header")]
    UntrustedProxy { peer: String },
    #[error("no client certificate was presented")]
    CertificateMissing,
    #[error("the proxy did not verify the client certificate: {0}")]
    NotVerified(String),
    #[error("client certificate header cannot be decoded: {0}")]
    Malformed(#[from] DecodeError),
    #[error("client certificate not pinned: sha256 {sha256} (subject {subject})")]
    NotPinned { sha256: String, subject: String },
    #[error(transparent)]
    Validity(#[from] ValidityError),
}

impl SenderRejection {
    /// The stable code clients see in the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            SenderRejection::UntrustedProxy { .. } => "untrusted_proxy",
            SenderRejection::CertificateMissing => "client_certificate_missing",
            SenderRejection::NotVerified(_) => "client_certificate_not_verified",
            SenderRejection::Malformed(_) => "client_certificate_malformed",
            SenderRejection::NotPinned { .. } => "client_certificate_not_pinned",
            SenderRejection::Validity(ValidityError::Expired(_)) => "client_certificate_expired",
            SenderRejection::Validity(ValidityError::NotYetValid(_)) => {
                "client_certificate_not_yet_valid"
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            SenderRejection::CertificateMissing => StatusCode::UNAUTHORIZED,
            SenderRejection::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

impl SenderPolicy {
    /// Runs the checks in order. `peer` is the socket's address, never a header's claim.
    pub fn check(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<VerifiedSender, SenderRejection> {
        let cert = headers.get(&self.cert_header);
        let verify = headers.get(&self.verify_header);

        let trusted = peer.is_some_and(|ip| self.is_trusted(ip));
        if !trusted && (cert.is_some() || verify.is_some()) {
            return Err(SenderRejection::UntrustedProxy {
                peer: peer.map_or_else(|| "(unknown)".into(), |ip| ip.to_string()),
            });
        }

        let verify = verify.map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let Some(cert) = cert.filter(|_| verify.as_deref() != Some(VERIFY_NONE)) else {
            return Err(SenderRejection::CertificateMissing);
        };
        if let Some(verify) = verify.filter(|v| v != VERIFY_SUCCESS) {
            return Err(SenderRejection::NotVerified(truncate(&verify, 120)));
        }

        let leaf = forwarded::decode(cert.as_bytes())?;
        let subject = leaf.leaf.tbs_certificate.subject.to_string();
        let pins = self.pins.current();
        let Some(pin) = pins.matching(&leaf) else {
            return Err(SenderRejection::NotPinned {
                sha256: hex::encode(pins::certificate_sha256(&leaf.leaf_der)),
                subject,
            });
        };
        let pin = pin.to_string();
        pins::check_validity(&leaf.leaf, now)?;
        Ok(VerifiedSender { pin, subject })
    }

    /// Whether `ip` is one of the proxies whose forwarded headers are believed.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}
