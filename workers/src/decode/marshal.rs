//! Schema-directed decoder for the marshal subset pstats dumps use. (Helper-owned: stub.)

use crate::profile::{Limits, Profile, ShapeError};

/// Why a marshal dump was refused.
#[derive(Debug, thiserror::Error)]
pub enum MarshalError {
    /// Content is not a valid stats dict or exceeds a budget.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Placeholder until the decoder lands.
    #[error("marshal decoding is not implemented yet")]
    Unimplemented,
}

/// Decodes a marshal dump.
pub fn decode(bytes: &[u8], name: &str, limits: Limits) -> Result<Profile, MarshalError> {
    let _ = (bytes, name, limits);
    Err(MarshalError::Unimplemented)
}
