//! Read-only views of what was stored, behind a bearer token. Without `ADMIN_TOKEN` the
//! endpoints answer 404, and the public nginx server never proxies them.

use chrono::{DateTime, FixedOffset, Utc};
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme, Tags};

use super::error::ErrorBody;
use crate::auth::admin::AdminSecret;
use crate::store::{EventFilter, Store, StoredDelivery, StoredEvent, StoredEventDetail};

/// Rows a listing returns unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Tags)]
enum AdminTags {
    /// Read-only views of stored events and deliveries (needs ADMIN_TOKEN).
    Admin,
}

/// `Authorization: Bearer <ADMIN_TOKEN>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct AdminToken(Bearer);

#[derive(ApiResponse)]
pub enum AdminResponse<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// The rows asked for.
    #[oai(status = 200)]
    Ok(Json<T>),
    /// A query parameter is malformed (a `since` that is not RFC 3339, a `limit` out of range).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The bearer token is missing or wrong.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Nothing by that id, or the admin endpoints are off (no ADMIN_TOKEN).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The database is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub struct AdminApi {
    pub store: Store,
    pub token: Option<AdminSecret>,
}

fn error<T: poem_openapi::types::ToJSON + Send + Sync>(
    make: fn(Json<ErrorBody>) -> AdminResponse<T>,
    code: &str,
    message: &str,
) -> AdminResponse<T> {
    make(Json(ErrorBody {
        error: code.to_owned(),
        message: message.to_owned(),
    }))
}

#[OpenApi(prefix_path = "/api/admin", tag = "AdminTags::Admin")]
impl AdminApi {
    /// List stored events, newest first, filtered by type, action, resource id and time.
    #[oai(path = "/events", method = "get")]
    async fn list_events(
        &self,
        auth: AdminToken,
        /// Only this resource type, such as `payments`.
        resource_type: Query<Option<String>>,
        /// Only this action, such as `confirmed`.
        action: Query<Option<String>>,
        /// Only events about this resource id.
        resource_id: Query<Option<String>>,
        /// Only events created at or after this time (RFC 3339).
        since: Query<Option<DateTime<FixedOffset>>>,
        /// At most this many events (1 to 1000, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> AdminResponse<Vec<StoredEvent>> {
        if let Err(denied) = self.authorize(&auth) {
            return denied;
        }
        let filter = EventFilter {
            resource_type: resource_type.0,
            action: action.0,
            resource_id: resource_id.0,
            since: since.0.map(|at| at.with_timezone(&Utc)),
            limit: limit.0.unwrap_or(DEFAULT_LIMIT),
        };
        self.answer(self.store.list_events(&filter).await)
    }

    /// Show one stored event with its links and the JSON it arrived as.
    #[oai(path = "/events/:event_id", method = "get")]
    async fn show_event(
        &self,
        auth: AdminToken,
        /// GoCardless's event id.
        event_id: Path<String>,
    ) -> AdminResponse<StoredEventDetail> {
        if let Err(denied) = self.authorize(&auth) {
            return denied;
        }
        match self.store.event(&event_id.0).await {
            Ok(Some(event)) => AdminResponse::Ok(Json(event)),
            Ok(None) => error(
                AdminResponse::NotFound,
                "not_found",
                "no stored event has that id",
            ),
            Err(err) => self.answer(Err(err)),
        }
    }

    /// List deliveries, newest first, with how each was verified.
    #[oai(path = "/deliveries", method = "get")]
    async fn list_deliveries(
        &self,
        auth: AdminToken,
        /// Only deliveries received at or after this time (RFC 3339).
        since: Query<Option<DateTime<FixedOffset>>>,
        /// At most this many deliveries (1 to 1000, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> AdminResponse<Vec<StoredDelivery>> {
        if let Err(denied) = self.authorize(&auth) {
            return denied;
        }
        let since = since.0.map(|at| at.with_timezone(&Utc));
        self.answer(
            self.store
                .list_deliveries(since, limit.0.unwrap_or(DEFAULT_LIMIT))
                .await,
        )
    }
}

impl AdminApi {
    fn authorize<T: poem_openapi::types::ToJSON + Send + Sync>(
        &self,
        auth: &AdminToken,
    ) -> Result<(), AdminResponse<T>> {
        let Some(token) = &self.token else {
            return Err(error(AdminResponse::NotFound, "not_found", "not found"));
        };
        if token.accepts(&auth.0.token) {
            Ok(())
        } else {
            tracing::warn!("admin request with a wrong bearer token");
            Err(error(
                AdminResponse::Unauthorized,
                "unauthorized",
                "wrong admin token",
            ))
        }
    }

    fn answer<T: poem_openapi::types::ToJSON + Send + Sync>(
        &self,
        result: Result<T, crate::store::StoreError>,
    ) -> AdminResponse<T> {
        match result {
            Ok(value) => AdminResponse::Ok(Json(value)),
            Err(err) => {
                tracing::error!(error = %err, "admin query failed");
                error(
                    AdminResponse::Unavailable,
                    "database_unavailable",
                    "database unavailable",
                )
            }
        }
    }
}
