//! Liveness and readiness, for orchestrators and load balancers.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::store::Store;

#[derive(Tags)]
enum HealthTags {
    /// Whether the service runs and can reach its database.
    Health,
}

/// A short status word.
#[derive(Object, Debug)]
pub struct Status {
    /// `ok` when healthy, `unavailable` when not.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum AliveResponse {
    /// The process runs and answers requests.
    #[oai(status = 200)]
    Alive(Json<Status>),
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers: deliveries can be stored.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// The database does not answer: deliveries would get 503.
    #[oai(status = 503)]
    NotReady(Json<Status>),
}

pub struct HealthApi {
    pub store: Store,
}

#[OpenApi(tag = "HealthTags::Health")]
impl HealthApi {
    /// Answers while the process runs.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> AliveResponse {
        AliveResponse::Alive(Json(Status {
            status: "ok".into(),
        }))
    }

    /// Answers 200 only when the database answers.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> ReadyResponse {
        match self.store.ping().await {
            Ok(()) => ReadyResponse::Ready(Json(Status {
                status: "ok".into(),
            })),
            Err(err) => {
                tracing::warn!(error = %err, "readiness check failed: database unavailable");
                ReadyResponse::NotReady(Json(Status {
                    status: "unavailable".into(),
                }))
            }
        }
    }
}
