//! The one shape every rejection takes, and the status each reason maps to.

use poem::http::StatusCode;
use poem_openapi::Object;

use crate::auth::sender::SenderRejection;
use crate::events::PayloadError;

/// The body of every error answer.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable reason, such as `client_certificate_not_pinned`.
    pub error: String,
    /// What was wrong, in words, for the person reading the answer.
    pub message: String,
}

/// A delivery that is not accepted: its status, code and message.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        }
    }
}

impl From<&SenderRejection> for Rejection {
    fn from(rejection: &SenderRejection) -> Self {
        Rejection::new(rejection.status(), rejection.code(), rejection.to_string())
    }
}

impl From<PayloadError> for Rejection {
    fn from(err: PayloadError) -> Self {
        let status = match err {
            PayloadError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PayloadError::NotUtf8(_) | PayloadError::Malformed(_) => StatusCode::BAD_REQUEST,
        };
        Rejection::new(status, err.code(), err.to_string())
    }
}
