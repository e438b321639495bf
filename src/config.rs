//! Settings from the environment, validated once at start-up.
//!
//! Anything that would leave the webhook open to anyone is refused here, before a socket is
//! opened: production needs a pinned certificate, a signing secret, or both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use poem::http::HeaderName;

use crate::auth::admin::AdminSecret;
use crate::auth::origin::GoCardlessEnvironment;
use crate::auth::pins::{self, CertSummary, Pin, PinSet};
use crate::auth::signature::Secrets;

/// Whether failed sender checks reject a delivery (production) or only mark it (development).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Production,
    Development,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Development => "development",
        }
    }
}

/// Everything the service needs to know, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen_addr: SocketAddr,
    pub environment: Environment,
    pub pins: PinSet,
    /// The certificates read from `GOCARDLESS_WEBHOOK_CERT_PATH`, for the start-up log.
    pub pinned_certificates: Vec<CertSummary>,
    /// Secrets that may sign `Webhook-Signature`; empty when signatures are not checked.
    pub secrets: Secrets,
    /// The only GoCardless environment accepted, when the operator restricts it.
    pub gocardless_environment: Option<GoCardlessEnvironment>,
    pub trusted_proxies: Vec<IpNet>,
    pub client_cert_header: HeaderName,
    pub client_verify_header: HeaderName,
    pub max_body_bytes: usize,
    /// Opens the read-only admin endpoints; without it they answer 404.
    pub admin_token: Option<AdminSecret>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://gocardless-webhooks.db";
const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.1/32,::1/128";
const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why the configuration cannot be used. Each message names the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot read {name} ({path}): {source}")]
    Unreadable {
        name: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to start in production with no way to check the sender: set \
         GOCARDLESS_WEBHOOK_CERT_PATH (PEM with the certificates GoCardless presents) or \
         GOCARDLESS_WEBHOOK_CERT_PINS to pin its client certificate, and/or \
         GOCARDLESS_WEBHOOK_SECRET to check Webhook-Signature; or set APP_ENV=development to \
         accept unverified deliveries while developing"
    )]
    NothingToCheck,
}

fn invalid(name: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_string(),
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so that tests need not touch the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let (pins, pinned_certificates) = read_pins(&var)?;
        let secrets = Secrets::parse(&var("GOCARDLESS_WEBHOOK_SECRET").unwrap_or_default());
        let environment = read_environment(&var)?;
        if environment == Environment::Production && pins.is_empty() && secrets.is_empty() {
            return Err(ConfigError::NothingToCheck);
        }
        let gocardless_environment = var("GOCARDLESS_ENVIRONMENT")
            .map(|value| {
                value
                    .parse()
                    .map_err(|err| invalid("GOCARDLESS_ENVIRONMENT", err))
            })
            .transpose()?;

        let client_cert_header = read_header_name(&var, "CLIENT_CERT_HEADER", "x-client-cert")?;
        let client_verify_header =
            read_header_name(&var, "CLIENT_VERIFY_HEADER", "x-client-verify")?;
        if client_cert_header == client_verify_header {
            return Err(invalid(
                "CLIENT_VERIFY_HEADER",
                "must differ from CLIENT_CERT_HEADER",
            ));
        }

        Ok(Settings {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen_addr: parse_var(&var, "LISTEN_ADDR", DEFAULT_LISTEN_ADDR)?,
            environment,
            pins,
            pinned_certificates,
            secrets,
            gocardless_environment,
            trusted_proxies: read_trusted_proxies(&var)?,
            client_cert_header,
            client_verify_header,
            max_body_bytes: read_max_body_bytes(&var)?,
            admin_token: var("ADMIN_TOKEN").map(|token| AdminSecret::new(token.trim().to_owned())),
        })
    }

    /// Reads the pinned certificates and pins again, for a reload on SIGHUP.
    pub fn pins_from_env() -> Result<(PinSet, Vec<CertSummary>), ConfigError> {
        read_pins(&|name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Settings that are allowed but probably a mistake, in words for a start-up warning.
    pub fn doubtful(&self) -> Vec<String> {
        let mut doubts = Vec::new();
        if self.trusted_proxies.iter().any(|net| net.prefix_len() == 0) {
            doubts.push(
                "TRUSTED_PROXIES trusts every address: anyone who reaches the service can \
                 claim any client certificate"
                    .to_owned(),
            );
        }
        if self.secrets.shortest().is_some_and(|len| len < 16) {
            doubts.push("a GOCARDLESS_WEBHOOK_SECRET is shorter than 16 characters".to_owned());
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|token| token.len() < 16)
        {
            doubts.push("ADMIN_TOKEN is shorter than 16 characters".to_owned());
        }
        doubts
    }

    /// Settings for commands that only need the database (`migrate`).
    pub fn database_url_from_env() -> String {
        std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into())
    }
}

fn parse_var<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let value = var(name).unwrap_or_else(|| default.into());
    value.trim().parse().map_err(|err| invalid(name, err))
}

fn read_environment(var: &impl Fn(&str) -> Option<String>) -> Result<Environment, ConfigError> {
    // APP_ENV wins; FLASK_ENV is read only because existing Payymo deployments set it.
    let (name, value) = match var("APP_ENV") {
        Some(value) => ("APP_ENV", value),
        None => match var("FLASK_ENV") {
            Some(value) => ("FLASK_ENV", value),
            None => return Ok(Environment::Production),
        },
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "production" => Ok(Environment::Production),
        "development" => Ok(Environment::Development),
        other => Err(invalid(
            name,
            format!("{other:?} is neither \"production\" nor \"development\""),
        )),
    }
}

fn read_pins(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(PinSet, Vec<CertSummary>), ConfigError> {
    let mut pins = PinSet::default();
    let mut summaries = Vec::new();

    if let Some(path) = var("GOCARDLESS_WEBHOOK_CERT_PATH") {
        let certificates = read_certificates(Path::new(&path))?;
        if let Some(key_path) = var("GOCARDLESS_WEBHOOK_KEY_PATH") {
            let key = read_file("GOCARDLESS_WEBHOOK_KEY_PATH", Path::new(&key_path))?;
            pins::check_key_matches(&certificates[0].0, &key)
                .map_err(|err| invalid("GOCARDLESS_WEBHOOK_KEY_PATH", err))?;
        }
        for (certificate, der) in &certificates {
            pins.insert(Pin::Certificate(pins::certificate_sha256(der)));
            let summary = CertSummary::of(certificate, der)
                .map_err(|err| invalid("GOCARDLESS_WEBHOOK_CERT_PATH", err))?;
            summaries.push(summary);
        }
    }

    for pin in var("GOCARDLESS_WEBHOOK_CERT_PINS")
        .iter()
        .flat_map(|v| split_list(v))
    {
        let pin = pin
            .parse::<Pin>()
            .map_err(|err| invalid("GOCARDLESS_WEBHOOK_CERT_PINS", err))?;
        pins.insert(pin);
    }
    Ok((pins, summaries))
}

type LoadedCertificates = Vec<(x509_cert::Certificate, Vec<u8>)>;

fn read_certificates(path: &Path) -> Result<LoadedCertificates, ConfigError> {
    let text = read_file("GOCARDLESS_WEBHOOK_CERT_PATH", path)?;
    pins::load_certificates(&text).map_err(|err| {
        invalid(
            "GOCARDLESS_WEBHOOK_CERT_PATH",
            format!("{}: {err}", path.display()),
        )
    })
}

fn read_file(name: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        name,
        path: path.to_owned(),
        source,
    })
}

fn read_trusted_proxies(var: &impl Fn(&str) -> Option<String>) -> Result<Vec<IpNet>, ConfigError> {
    let value = var("TRUSTED_PROXIES").unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.into());
    split_list(&value)
        .map(|entry| {
            // A bare address means exactly that host.
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        "TRUSTED_PROXIES",
                        format!("{entry:?} is neither an address nor a CIDR block"),
                    )
                })
        })
        .collect()
}

fn read_header_name(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<HeaderName, ConfigError> {
    let value = var(name).unwrap_or_else(|| default.into());
    HeaderName::from_bytes(value.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| invalid(name, format!("{value:?} is not a header name")))
}

fn read_max_body_bytes(var: &impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    let limit: usize = parse_var(var, "MAX_BODY_BYTES", &DEFAULT_MAX_BODY_BYTES.to_string())?;
    if limit == 0 {
        return Err(invalid("MAX_BODY_BYTES", "must be at least 1"));
    }
    Ok(limit)
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    const PIN: &str = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn production_without_pins_refuses_to_start_and_names_the_variables() {
        let err = settings(&[]).unwrap_err().to_string();
        assert!(err.contains("GOCARDLESS_WEBHOOK_CERT_PATH"), "{err}");
        assert!(err.contains("GOCARDLESS_WEBHOOK_CERT_PINS"), "{err}");
    }

    #[test]
    fn production_may_rely_on_the_signature_alone() {
        let settings = settings(&[("GOCARDLESS_WEBHOOK_SECRET", "s1, s2")]).unwrap();
        assert!(settings.pins.is_empty());
        assert_eq!(settings.secrets.len(), 2);
        let err = settings_error(&[]);
        assert!(err.contains("GOCARDLESS_WEBHOOK_SECRET"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_the_settings_debug_output() {
        let settings = settings(&[("GOCARDLESS_WEBHOOK_SECRET", "hunter2-secret")]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn the_gocardless_environment_is_live_or_sandbox() {
        let pinned = ("GOCARDLESS_WEBHOOK_CERT_PINS", PIN);
        let live = settings(&[pinned, ("GOCARDLESS_ENVIRONMENT", "live")]).unwrap();
        assert_eq!(
            live.gocardless_environment,
            Some(GoCardlessEnvironment::Live)
        );
        let err = settings_error(&[pinned, ("GOCARDLESS_ENVIRONMENT", "test")]);
        assert!(err.contains("GOCARDLESS_ENVIRONMENT"), "{err}");
    }

    fn settings_error(vars: &[(&str, &str)]) -> String {
        settings(vars).unwrap_err().to_string()
    }

    #[test]
    fn development_starts_without_pins() {
        let settings = settings(&[("APP_ENV", "development")]).unwrap();
        assert_eq!(settings.environment, Environment::Development);
        assert!(settings.pins.is_empty());
    }

    #[test]
    fn flask_env_development_is_honoured_but_app_env_wins() {
        let dev = settings(&[("FLASK_ENV", "development")]).unwrap();
        assert_eq!(dev.environment, Environment::Development);
        assert!(settings(&[("FLASK_ENV", "development"), ("APP_ENV", "production")]).is_err());
    }

    #[test]
    fn an_unknown_environment_is_an_error_not_a_default() {
        let err = settings(&[("APP_ENV", "prod")]).unwrap_err().to_string();
        assert!(err.contains("APP_ENV"), "{err}");
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let settings = settings(&[("GOCARDLESS_WEBHOOK_CERT_PINS", PIN)]).unwrap();
        assert_eq!(settings.database_url, "sqlite://gocardless-webhooks.db");
        assert_eq!(settings.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.client_cert_header.as_str(), "x-client-cert");
        assert_eq!(settings.client_verify_header.as_str(), "x-client-verify");
        assert_eq!(settings.max_body_bytes, 1_048_576);
        let proxies: Vec<String> = settings
            .trusted_proxies
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(proxies, ["127.0.0.1/32", "::1/128"]);
    }

    #[test]
    fn trusted_proxies_take_bare_addresses_and_blocks() {
        let settings = settings(&[
            ("GOCARDLESS_WEBHOOK_CERT_PINS", PIN),
            ("TRUSTED_PROXIES", "10.0.0.7, 172.16.0.0/12,::1"),
        ])
        .unwrap();
        let proxies: Vec<String> = settings
            .trusted_proxies
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(proxies, ["10.0.0.7/32", "172.16.0.0/12", "::1/128"]);
    }

    #[test]
    fn the_two_certificate_headers_must_have_different_names() {
        let err = settings_error(&[
            ("GOCARDLESS_WEBHOOK_CERT_PINS", PIN),
            ("CLIENT_CERT_HEADER", "X-Client-Verify"),
        ]);
        assert!(err.contains("CLIENT_VERIFY_HEADER"), "{err}");
    }

    #[test]
    fn doubtful_settings_are_named_for_a_warning() {
        let settings = settings(&[
            ("GOCARDLESS_WEBHOOK_SECRET", "short"),
            ("TRUSTED_PROXIES", "0.0.0.0/0"),
            ("ADMIN_TOKEN", "x"),
        ])
        .unwrap();
        let doubts = settings.doubtful().join("\n");
        for name in [
            "TRUSTED_PROXIES",
            "GOCARDLESS_WEBHOOK_SECRET",
            "ADMIN_TOKEN",
        ] {
            assert!(doubts.contains(name), "{doubts}");
        }
        let fine = settings_error_free(&[("GOCARDLESS_WEBHOOK_SECRET", "a-long-enough-secret")]);
        assert!(fine.doubtful().is_empty());
    }

    fn settings_error_free(vars: &[(&str, &str)]) -> Settings {
        settings(vars).unwrap()
    }

    #[test]
    fn a_malformed_pin_is_refused_with_the_variable_name() {
        let err = settings(&[("GOCARDLESS_WEBHOOK_CERT_PINS", "sha256/nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GOCARDLESS_WEBHOOK_CERT_PINS"), "{err}");
    }

    #[test]
    fn a_missing_certificate_file_is_refused_with_its_path() {
        let err = settings(&[("GOCARDLESS_WEBHOOK_CERT_PATH", "/nonexistent/gc.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/gc.pem"), "{err}");
    }
}
