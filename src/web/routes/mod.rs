//! One file per resource.

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

use super::error::ApiError;

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
