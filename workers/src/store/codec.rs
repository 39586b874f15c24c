//! Compact binary form for stored profiles and results: postcard, then zstd.
//! A decoded profile is a few times smaller this way than its JSON, and loading it
//! never re-runs the dump decoder.

use serde::{de::DeserializeOwned, Serialize};

/// Why a stored blob could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// postcard refused the value or the bytes.
    #[error("binary codec: {0}")]
    Postcard(#[from] postcard::Error),
    /// zstd failed.
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
}

/// zstd level: 3 is zstd's default and costs a few ms on a 1 MB profile.
const LEVEL: i32 = 3;
/// Refuse to inflate a stored blob past this (it is ours, but Redis is shared).
const MAX_DECOMPRESSED: usize = 1 << 30;

/// Serialises and compresses.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let raw = postcard::to_stdvec(value)?;
    Ok(zstd::bulk::compress(&raw, LEVEL)?)
}

/// Decompresses and deserialises.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let raw = zstd::stream::decode_all(std::io::Read::take(bytes, MAX_DECOMPRESSED as u64))?;
    Ok(postcard::from_bytes(&raw)?)
}
