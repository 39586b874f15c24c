//! Data-only pickle decoder (stats dicts and pstats.Stats objects). (Helper-owned: stub.)

use crate::profile::{Limits, Profile, ShapeError};

/// Why a pickle was refused.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    /// Content is not a valid stats dict or exceeds a budget.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Placeholder until the decoder lands.
    #[error("pickle decoding is not implemented yet")]
    Unimplemented,
}

/// Decodes a pickle.
pub fn decode(bytes: &[u8], name: &str, limits: Limits) -> Result<Profile, PickleError> {
    let _ = (bytes, name, limits);
    Err(PickleError::Unimplemented)
}
