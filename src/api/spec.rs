//! The published contract: poem-openapi's document of the API, completed with the three things
//! its registry cannot carry, and rendered as JSON, YAML and a Swagger UI page.
//!
//! The document is kept as a `serde_yaml::Value` because its mappings keep their keys in
//! order (serde_json's sort them in this build), so the spec reads top-down in both formats.
//!
//! The three additions are the certificate and signature headers (their names are settings, so
//! they are known only at start-up), the request examples (OpenAPI's `examples`, several per
//! media type), and the `not` that keeps other events apart from Payymo's three.

use std::collections::HashMap;
use std::marker::PhantomData;

use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderName, Method};
use poem_openapi::registry::{MetaApi, Registry};
use poem_openapi::{OpenApi, OpenApiService};
use serde_yaml::{Mapping, Value};

use super::examples::EXAMPLES;
use super::{schema, yaml, Apis};
use crate::auth::sender::SenderPolicy;

const TITLE: &str = "GoCardless webhooks for Payymo";
const DESCRIPTION: &str = "Receives GoCardless webhook deliveries forwarded by nginx, checks \
    the client certificate nginx saw, validates the events and stores each exactly once.";
/// The operation the headers and examples belong to.
const WEBHOOK_PATH: &str = "/api/gocardless/webhook";
const DEFAULT_CERT_HEADER: &str = "X-Client-Cert";
const DEFAULT_VERIFY_HEADER: &str = "X-Client-Verify";

/// The names of the headers nginx forwards the client certificate in.
#[derive(Clone, Debug)]
pub struct CertificateHeaders {
    pub cert: String,
    pub verify: String,
}

impl Default for CertificateHeaders {
    fn default() -> Self {
        CertificateHeaders {
            cert: DEFAULT_CERT_HEADER.into(),
            verify: DEFAULT_VERIFY_HEADER.into(),
        }
    }
}

impl CertificateHeaders {
    /// The names a running service reads; the defaults keep their usual capitals.
    pub fn of(policy: &SenderPolicy) -> Self {
        let shown = |name: &HeaderName, default: &str| {
            if name.as_str().eq_ignore_ascii_case(default) {
                default.to_owned()
            } else {
                name.as_str().to_owned()
            }
        };
        CertificateHeaders {
            cert: shown(&policy.cert_header, DEFAULT_CERT_HEADER),
            verify: shown(&policy.verify_header, DEFAULT_VERIFY_HEADER),
        }
    }
}

/// The spec of the service, ready to serve.
pub struct Spec {
    document: Value,
    swagger_ui: String,
}

impl Spec {
    /// The spec for a service that reads the certificate from `headers`. With the default
    /// names this is the spec committed in `openapi/`.
    pub fn new(headers: &CertificateHeaders) -> Spec {
        let service = OpenApiService::new(
            Described::<Apis>(PhantomData),
            TITLE,
            env!("CARGO_PKG_VERSION"),
        )
        .description(DESCRIPTION);
        let generated = service.spec();
        let mut document: Value =
            serde_json::from_str(&generated).expect("poem-openapi writes valid JSON");
        add_other_event_exclusion(&mut document);
        add_headers(&mut document, headers);
        add_examples(&mut document);

        let page = service.swagger_ui_html();
        assert!(
            page.contains(&generated),
            "the Swagger UI page no longer embeds the spec as poem-openapi writes it"
        );
        let swagger_ui = page.replacen(&generated, &to_json(&document), 1);
        Spec {
            document,
            swagger_ui,
        }
    }

    /// The spec as pretty-printed JSON, ending in a newline like the YAML.
    pub fn json(&self) -> String {
        to_json(&self.document) + "\n"
    }

    pub fn yaml(&self) -> String {
        yaml::to_string(&self.document)
    }

    /// The Swagger UI page, with this spec in it.
    pub fn swagger_ui(&self) -> &str {
        &self.swagger_ui
    }

    /// The methods each documented path answers, for the `Allow` header of a 405.
    pub fn allowed_methods(&self) -> AllowedMethods {
        let Some(Value::Mapping(paths)) = self.document.get("paths") else {
            return AllowedMethods::default();
        };
        let mut allowed = AllowedMethods::default();
        for (path, operations) in paths {
            let (Some(path), Some(operations)) = (path.as_str(), operations.as_mapping()) else {
                continue;
            };
            let mut methods: Vec<String> = operations
                .keys()
                .filter_map(Value::as_str)
                .map(str::to_ascii_uppercase)
                .collect();
            // poem answers HEAD wherever it answers GET.
            if methods.iter().any(|method| method == "GET") {
                methods.push("HEAD".into());
            }
            allowed.insert(path, &methods.join(", "));
        }
        allowed
    }
}

/// Path templates, such as `/events/{id}`, and the methods they answer.
#[derive(Default, Debug)]
pub struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    pub fn insert(&mut self, template: &str, methods: &str) {
        let segments = template.split('/').map(str::to_owned).collect();
        self.0.push((segments, methods.to_owned()));
    }

    /// The methods of the template that `path` fits, if one does.
    pub fn get(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        let fits = |template: &[String]| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && !segment.is_empty())
                })
        };
        self.0
            .iter()
            .find(|(template, _)| fits(template))
            .map(|(_, methods)| methods.as_str())
    }
}

impl Default for Spec {
    fn default() -> Self {
        Spec::new(&CertificateHeaders::default())
    }
}

fn to_json(document: &Value) -> String {
    serde_json::to_string_pretty(document).expect("a document read from JSON writes as JSON")
}

/// The API's description without its handlers, so that the spec can be made without a
/// database to serve from.
struct Described<T>(PhantomData<T>);

impl<T: OpenApi> OpenApi for Described<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, _: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {}
}

fn add_other_event_exclusion(document: &mut Value) {
    let exclusion =
        serde_yaml::to_value(schema::other_event_exclusion()).expect("JSON converts to YAML");
    let other = document
        .get_mut("components")
        .and_then(|components| components.get_mut("schemas"))
        .and_then(|schemas| schemas.get_mut(schema::OTHER_EVENT))
        .and_then(Value::as_mapping_mut)
        .expect("the request schemas are registered");
    other.insert("not".into(), exclusion);
}

fn add_headers(document: &mut Value, names: &CertificateHeaders) {
    let cert = format!(
        "The client certificate nginx saw, as `$ssl_client_escaped_cert` writes it (URL-escaped \
         PEM; the README lists the other encodings). Believed only from a trusted proxy. Its \
         name is set by `CLIENT_CERT_HEADER` (default `{DEFAULT_CERT_HEADER}`)."
    );
    let verify = format!(
        "nginx's verdict on the certificate, `$ssl_client_verify`: `SUCCESS`, or `NONE` when \
         none was presented. Its name is set by `CLIENT_VERIFY_HEADER` (default \
         `{DEFAULT_VERIFY_HEADER}`)."
    );
    let headers = [
        (names.cert.as_str(), cert),
        (names.verify.as_str(), verify),
        (
            "Webhook-Signature",
            "The lower-case hex HMAC-SHA256 of the body, keyed with the endpoint's secret; \
             checked when `GOCARDLESS_WEBHOOK_SECRET` is set."
                .into(),
        ),
        (
            "Origin",
            "Which GoCardless sent it: `https://api.gocardless.com` (live) or \
             `https://api-sandbox.gocardless.com` (sandbox); checked when \
             `GOCARDLESS_ENVIRONMENT` is set. Browsers, Swagger UI's included, send their own."
                .into(),
        ),
        (
            "X-Request-Id",
            "nginx's request id, used in the service's log lines when a trusted proxy sends it \
             (up to 128 characters)."
                .into(),
        ),
    ];
    let parameters = headers
        .into_iter()
        .map(|(name, description)| {
            ordered([
                ("name", name.into()),
                ("in", "header".into()),
                ("description", description.into()),
                ("required", false.into()),
                ("schema", ordered([("type", "string".into())])),
            ])
        })
        .collect();
    // Parameters read best before the body they travel with.
    let operation = webhook_operation(document);
    let mut parameters = Some(Value::Sequence(parameters));
    for (key, value) in std::mem::take(operation) {
        if key.as_str() == Some("requestBody") {
            if let Some(parameters) = parameters.take() {
                operation.insert("parameters".into(), parameters);
            }
        }
        operation.insert(key, value);
    }
    if let Some(parameters) = parameters {
        operation.insert("parameters".into(), parameters);
    }
}

fn add_examples(document: &mut Value) {
    let examples: Mapping = EXAMPLES
        .iter()
        .map(|example| {
            let body: Value =
                serde_json::from_str(example.body).expect("the examples are valid JSON");
            let entry = ordered([("summary", example.summary.into()), ("value", body)]);
            (example.name.into(), entry)
        })
        .collect();
    let media_type = webhook_operation(document)
        .get_mut("requestBody")
        .and_then(|body| body.get_mut("content"))
        .and_then(|content| content.get_mut("application/json"))
        .and_then(Value::as_mapping_mut)
        .expect("the webhook declares a JSON request body");
    media_type.insert("examples".into(), Value::Mapping(examples));
}

fn webhook_operation(document: &mut Value) -> &mut Mapping {
    document
        .get_mut("paths")
        .and_then(|paths| paths.get_mut(WEBHOOK_PATH))
        .and_then(|path| path.get_mut("post"))
        .and_then(Value::as_mapping_mut)
        .expect("the webhook operation is documented")
}

/// A mapping whose keys keep the order given.
fn ordered<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(key, value)| (key.into(), value))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swagger_ui_page_embeds_the_completed_spec() {
        let spec = Spec::default();
        assert!(spec.swagger_ui().contains(spec.json().trim_end()));
        assert!(spec.json().contains("\"examples\""));
    }

    #[test]
    fn the_json_and_yaml_forms_hold_the_same_document() {
        let spec = Spec::default();
        let from_json: serde_json::Value = serde_json::from_str(&spec.json()).unwrap();
        let from_yaml: serde_json::Value = serde_yaml::from_str(&spec.yaml()).unwrap();
        assert_eq!(from_json, from_yaml);
    }

    #[test]
    fn configured_header_names_replace_the_defaults_in_the_spec() {
        let headers = CertificateHeaders {
            cert: "ssl-client-cert".into(),
            verify: "ssl-client-verify".into(),
        };
        let json = Spec::new(&headers).json();
        assert!(json.contains("\"name\": \"ssl-client-cert\""));
        assert!(!json.contains("\"name\": \"X-Client-Cert\""));
    }

    #[test]
    fn every_documented_path_has_its_methods_for_a_405() {
        let mut allowed = Spec::default().allowed_methods();
        assert_eq!(allowed.get(WEBHOOK_PATH), Some("POST"));
        assert_eq!(allowed.get("/healthz"), Some("GET, HEAD"));
        assert_eq!(allowed.get("/nowhere"), None);

        allowed.insert("/events/{id}", "GET");
        assert_eq!(allowed.get("/events/EV1"), Some("GET"));
        assert_eq!(allowed.get("/events/"), None);
    }
}
