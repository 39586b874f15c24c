//! Every way a request can fail, mapped once to an HTTP status and the JSON body
//! `{"error": {"code", "message"}}`. No stack traces, no internal detail beyond a word.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use profdiff_workers::jobs::queue::QueueError;
use profdiff_workers::store::StoreError;

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The parts of an error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable word for programs, e.g. `not_found`, `too_large`, `busy`, `rate_limited`.
    pub code: &'static str,
    /// A sentence for people, naming the problem.
    pub message: String,
}

/// A failed API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// No such resource in this session (also for other sessions' ids).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Upload bigger than the limit.
    #[error("upload too large: the limit is {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// File type not accepted.
    #[error("{0}")]
    Unsupported(String),
    /// Well-formed but cannot be done (e.g. comparing a profile that failed to parse).
    #[error("{0}")]
    Unprocessable(String),
    /// Too much queued work; try again later.
    #[error("the service is busy ({queued} jobs waiting); retry in a few seconds")]
    Busy {
        /// Jobs waiting.
        queued: u64,
    },
    /// A session or client address went over its request budget.
    #[error("too many requests from this {scope}; retry in {retry_after} s")]
    RateLimited {
        /// `session` or `address`.
        scope: &'static str,
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// Redis (or the queue) is unreachable.
    #[error("storage temporarily unavailable; retry shortly")]
    Unavailable(String),
    /// Admin endpoint without a valid token.
    #[error("admin token required")]
    Unauthorized,
    /// A bug.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::Unsupported(_) => "unsupported_type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Busy { .. } => "busy",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Busy { .. } | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "request failed: unavailable"),
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed: internal"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::Busy { .. } | ApiError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::RateLimited { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Redis(r) => ApiError::Unavailable(r.to_string()),
            StoreError::Codec(c) => ApiError::Internal(c.to_string()),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
