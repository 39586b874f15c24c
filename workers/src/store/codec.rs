//! Compact binary form for stored profiles and results: MessagePack, then zstd.
//! A decoded profile is several times smaller this way than its JSON, and loading it
//! never re-runs the dump decoder. MessagePack (not postcard/bincode) because it is
//! self-describing: the model uses internally tagged enums, which need `deserialize_any`.

use serde::{de::DeserializeOwned, Serialize};

/// Why a stored blob could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Serialising failed.
    #[error("binary codec: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bytes do not read back as the expected type.
    #[error("binary codec: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// zstd failed.
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
}

/// zstd level: 3 is zstd's default and costs a few ms on a 1 MB profile.
const LEVEL: i32 = 3;
/// Refuse to inflate a stored blob past this (it is ours, but Redis is shared).
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Serialises and compresses.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let raw = rmp_serde::to_vec(value)?;
    Ok(zstd::bulk::compress(&raw, LEVEL)?)
}

/// Decompresses and deserialises.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut raw = Vec::new();
    let dec = zstd::stream::read::Decoder::new(bytes)?;
    std::io::Read::read_to_end(&mut std::io::Read::take(dec, MAX_DECOMPRESSED), &mut raw)?;
    Ok(rmp_serde::from_slice(&raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{
        Edge, EdgeStats, FuncKey, Function, Producer, Profile, SourceFormat, Stats, Totals,
    };

    fn profile(name: &str, tt: f64) -> Profile {
        let f = |key, tt| Function {
            key,
            stats: Stats {
                cc: 3,
                nc: 4,
                tt,
                ct: tt * 2.0,
            },
            callers_start: 0,
            callers_end: 1,
        };
        Profile {
            name: name.into(),
            strings: vec![
                "app.py".into(),
                "main".into(),
                "~".into(),
                "<built-in method len>".into(),
            ],
            keys: vec![
                FuncKey {
                    file: 0,
                    line: 1,
                    name: 1,
                },
                FuncKey {
                    file: 2,
                    line: 0,
                    name: 3,
                },
            ],
            functions: vec![f(0, tt), f(1, 0.25)],
            edges: vec![Edge {
                caller: 0,
                stats: EdgeStats::count(4),
            }],
            totals: Totals {
                total_calls: 8,
                primitive_calls: 6,
                total_time: tt + 0.25,
            },
            // Internally tagged: the case postcard/bincode cannot read back.
            format: SourceFormat::Pickle { protocol: 4 },
            producer: Producer::Cprofile,
        }
    }

    #[test]
    fn profiles_and_comparisons_round_trip() {
        let (a, b) = (profile("a.prof", 0.5), profile("b.prof", 0.75));
        let blob = encode(&a).unwrap();
        let back: Profile = decode(&blob).unwrap();
        assert_eq!(back.name, a.name);
        assert_eq!(back.functions, a.functions);
        assert_eq!(back.format, a.format);
        // The count-only edge keeps its "no times" marker.
        assert_eq!(back.edges[0].stats.tt(), None);
        let cmp = crate::jobs::engine::compare(&a, &b);
        let back: crate::jobs::engine::Comparison = decode(&encode(&cmp).unwrap()).unwrap();
        assert_eq!(back, cmp);
        assert!(decode::<Profile>(b"not zstd").is_err());
    }
}
