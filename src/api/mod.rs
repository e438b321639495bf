//! The HTTP surface: the webhook, health checks, the spec and Swagger UI.

mod error;
mod health;
mod schema;
mod webhook;

use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{EndpointExt, IntoResponse, Response, Route};
use poem_openapi::OpenApiService;

pub use error::{ErrorBody, Rejection};
pub use webhook::WebhookApi;

use crate::store::Store;
use health::HealthApi;

/// The OpenAPI service: every documented operation.
pub fn service(webhook: WebhookApi, store: Store) -> OpenApiService<(WebhookApi, HealthApi), ()> {
    OpenApiService::new(
        (webhook, HealthApi { store }),
        "GoCardless webhooks for Payymo",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Receives GoCardless webhook deliveries forwarded by nginx, checks the client \
         certificate nginx saw, validates the events and stores each exactly once.",
    )
}

/// The whole HTTP application.
pub fn app(webhook: WebhookApi, store: Store) -> BoxEndpoint<'static> {
    let service = service(webhook, store);
    let docs = service.swagger_ui();
    let spec_json = service.spec_endpoint();
    let spec_yaml = service.spec_endpoint_yaml();
    Route::new()
        .nest("/", service)
        .nest("/docs", docs)
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        .catch_all_error(|err: poem::Error| async move { error_response(err) })
        .boxed()
}

/// Errors raised outside the webhook's own checks (unknown path, wrong method) get the same
/// JSON shape as every other rejection.
fn error_response(err: poem::Error) -> Response {
    let status = err.status();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
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
