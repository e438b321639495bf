//! The HTTP surface: the webhook, health checks, the spec and Swagger UI.

mod admin;
mod error;
mod examples;
mod health;
mod schema;
pub mod spec;
mod webhook;
mod yaml;

use poem::endpoint::{make_sync, BoxEndpoint};
use poem::http::{header, StatusCode};
use poem::web::Html;
use poem::{get, Endpoint, EndpointExt, IntoResponse, Response, Route};
use poem_openapi::OpenApiService;

pub use error::{ErrorBody, Rejection};
pub use webhook::WebhookApi;

use std::sync::Arc;

use crate::auth::admin::AdminSecret;
use crate::metrics::Metrics;
use crate::store::Store;
use admin::AdminApi;
use health::HealthApi;
use spec::{CertificateHeaders, Spec};

/// Every API the service serves and documents.
type Apis = (WebhookApi, HealthApi, AdminApi);

/// The whole HTTP application. The admin endpoints answer only with `admin_token` set.
pub fn app(
    webhook: WebhookApi,
    store: Store,
    admin_token: Option<AdminSecret>,
) -> BoxEndpoint<'static> {
    let spec = Spec::new(&CertificateHeaders::of(&webhook.policy));
    let mut allowed = spec.allowed_methods();
    for path in ["/docs", "/openapi.json", "/openapi.yaml", "/metrics"] {
        allowed.insert(path, "GET, HEAD");
    }
    let (page, json, yaml) = (spec.swagger_ui().to_owned(), spec.json(), spec.yaml());

    // The handlers are served by poem-openapi; the documents come from `spec`, which
    // completes what poem-openapi generates.
    let metrics = metrics_endpoint(webhook.metrics.clone(), store.clone());
    let health = HealthApi {
        store: store.clone(),
    };
    // Off means absent: without a token, no admin request reaches the token check.
    let admin_off = admin_token.is_none();
    let admin = AdminApi {
        store,
        token: admin_token,
    };
    let handlers = OpenApiService::new((webhook, health, admin), "", "");
    Route::new()
        .nest("/", handlers)
        .at("/metrics", get(metrics))
        .nest(
            "/docs",
            Route::new().at("/", get(make_sync(move |_| Html(page.clone())))),
        )
        .at("/openapi.json", get(document(json, "application/json")))
        .at("/openapi.yaml", get(document(yaml, "application/yaml")))
        .around(move |endpoint, request| async move {
            if admin_off && request.uri().path().starts_with("/api/admin/") {
                return Err(poem::Error::from_status(StatusCode::NOT_FOUND));
            }
            endpoint.call(request).await
        })
        .catch_all_error(|err: poem::Error| async move { error_response(err) })
        .around(move |endpoint, request| {
            // RFC 9110 asks a 405 to say which methods the resource does answer.
            let methods = allowed.get(request.uri().path()).map(str::to_owned);
            async move {
                let mut response = endpoint.call(request).await?;
                let allow = methods.and_then(|methods| methods.parse().ok());
                if let Some(allow) =
                    allow.filter(|_| response.status() == StatusCode::METHOD_NOT_ALLOWED)
                {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                Ok(response)
            }
        })
        .boxed()
}

/// `GET /metrics`: the Prometheus exposition, with the pool read at scrape time.
fn metrics_endpoint(metrics: Arc<Metrics>, store: Store) -> impl Endpoint {
    make_sync(move |_| {
        let pool = store.pool();
        Response::builder()
            .content_type(crate::metrics::CONTENT_TYPE)
            .body(metrics.render(pool.size(), pool.num_idle()))
    })
}

fn document(text: String, content_type: &'static str) -> impl Endpoint {
    make_sync(move |_| {
        Response::builder()
            .content_type(content_type)
            .body(text.clone())
    })
}

/// Errors raised outside the webhook's own checks (unknown path, wrong method) get the same
/// JSON shape as every other rejection.
fn error_response(err: poem::Error) -> Response {
    let status = err.status();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let message = if status.is_server_error() {
        tracing::error!(error = %err, "internal error");
        "internal error".to_owned()
    } else {
        err.to_string()
    };
    let body = ErrorBody {
        error: code.into(),
        message,
    };
    poem_openapi::payload::Json(body)
        .with_status(status)
        .into_response()
}
