//! One file per resource.

pub mod batches;
pub mod comparisons;
pub mod debug;
pub mod graph;
pub mod health;
pub mod jobs;
pub mod profiles;
pub mod session;
pub mod ui;
pub mod upload;

use profdiff_workers::keyspace::is_valid_id;
use profdiff_workers::store::Record;

use super::error::ApiError;
use super::AppState;

/// The record of `what` named `id`, stored under `key` in the caller's session; 404 for
/// a malformed id and for one that is not there (another session's ids included).
pub async fn owned_record(
    state: &AppState,
    what: &'static str,
    id: &str,
    key: &str,
) -> Result<Record, ApiError> {
    check_id(id, what)?;
    state
        .store
        .record(key)
        .await?
        .ok_or(ApiError::NotFound(what))
}

/// Ids from the path are checked before they reach a Redis key; a malformed id is as
/// unknown as another session's.
pub fn check_id(id: &str, what: &'static str) -> Result<(), ApiError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::NotFound(what))
    }
}

/// A fresh id for profiles, jobs and comparisons.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
