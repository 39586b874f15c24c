//! Compact binary forms for stored profiles and results.
//!
//! Profiles (the hot path: written by every parse job, read by every compare job) use a
//! purpose-built layout, `PDP2`: a small MessagePack header (name, strings, totals,
//! format, producer) followed by the key and function tables as fixed-size
//! little-endian records (edges column by column), zstd-compressed as one frame, then the caller edges as a
//! second frame. A comparison needs only the first frame, so it never inflates or
//! parses the edges (most of a profile's bytes). Version 1 blobs (MessagePack of the
//! whole `Profile`, then zstd) still read back.
//!
//! Comparisons and other values use MessagePack (arrays, not maps), then zstd.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::profile::{Edge, EdgeStats, FuncKey, Function, Producer, Profile, SourceFormat, Totals};

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
    /// A profile blob is truncated or inconsistent.
    #[error("stored profile is damaged: {0}")]
    Damaged(&'static str),
}

/// zstd's fast level -3. Compression was ~23 % of the server's CPU under load; on the
/// synth_medium tables -3 takes 0.53/0.67/1.06 ms (head/edges/comparison) against
/// 0.73/0.90/1.38 ms at level 1, for blobs ~20 % larger, still well under the raw dumps'
/// size (figures in docs/service.md).
const LEVEL: i32 = -3;
/// Refuse to inflate a stored blob past this (it is ours, but Redis is shared).
const MAX_DECOMPRESSED: u64 = 1 << 30;
/// Leading bytes of a version 2 profile blob.
const PROFILE_MAGIC: &[u8; 4] = b"PDP2";
const KEY_BYTES: usize = 16;
const FUNCTION_BYTES: usize = 44;
const EDGE_BYTES: usize = 36;

/// Serialises and compresses.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let raw = rmp_serde::to_vec(value)?;
    Ok(zstd::bulk::compress(&raw, LEVEL)?)
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut raw = Vec::new();
    let dec = zstd::stream::read::Decoder::new(bytes)?;
    std::io::Read::read_to_end(&mut std::io::Read::take(dec, MAX_DECOMPRESSED), &mut raw)?;
    Ok(raw)
}

/// Decompresses and deserialises.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(rmp_serde::from_slice(&inflate(bytes)?)?)
}

#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    strings: Vec<Box<str>>,
    totals: Totals,
    format: SourceFormat,
    producer: Producer,
}

/// Encodes a profile in the `PDP2` layout.
pub fn encode_profile(p: &Profile) -> Result<Vec<u8>, CodecError> {
    let header = rmp_serde::to_vec(&Header {
        name: p.name.clone(),
        strings: p.strings.clone(),
        totals: p.totals,
        format: p.format,
        producer: p.producer,
    })?;
    let mut head = Vec::with_capacity(
        12 + header.len() + p.keys.len() * KEY_BYTES + p.functions.len() * FUNCTION_BYTES,
    );
    for n in [header.len(), p.keys.len(), p.functions.len()] {
        head.extend_from_slice(&len32(n)?.to_le_bytes());
    }
    head.extend_from_slice(&header);
    for k in &p.keys {
        head.extend_from_slice(&k.file.to_le_bytes());
        head.extend_from_slice(&k.line.to_le_bytes());
        head.extend_from_slice(&k.name.to_le_bytes());
    }
    for f in &p.functions {
        head.extend_from_slice(&f.key.to_le_bytes());
        head.extend_from_slice(&f.stats.cc.to_le_bytes());
        head.extend_from_slice(&f.stats.nc.to_le_bytes());
        head.extend_from_slice(&f.stats.tt.to_le_bytes());
        head.extend_from_slice(&f.stats.ct.to_le_bytes());
        head.extend_from_slice(&f.callers_start.to_le_bytes());
        head.extend_from_slice(&f.callers_end.to_le_bytes());
    }
    // Column by column: like values sit together, so zstd finds the repeats (caller
    // ids, small counts, shared exponents): smaller blobs at the same speed.
    let mut edges = Vec::with_capacity(p.edges.len() * EDGE_BYTES);
    edges.extend(p.edges.iter().flat_map(|e| e.caller.to_le_bytes()));
    edges.extend(p.edges.iter().flat_map(|e| e.stats.nc.to_le_bytes()));
    edges.extend(p.edges.iter().flat_map(|e| e.stats.cc.to_le_bytes()));
    // NaN marks "no times" (count-only edges); the bits round-trip exactly.
    edges.extend(
        p.edges
            .iter()
            .flat_map(|e| e.stats.tt().unwrap_or(f64::NAN).to_le_bytes()),
    );
    edges.extend(
        p.edges
            .iter()
            .flat_map(|e| e.stats.ct().unwrap_or(f64::NAN).to_le_bytes()),
    );
    let head = zstd::bulk::compress(&head, LEVEL)?;
    let edges = zstd::bulk::compress(&edges, LEVEL)?;
    let mut out = Vec::with_capacity(8 + head.len() + edges.len());
    out.extend_from_slice(PROFILE_MAGIC);
    out.extend_from_slice(&len32(head.len())?.to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&edges);
    Ok(out)
}

/// Decodes a whole stored profile (either layout).
pub fn decode_profile(bytes: &[u8]) -> Result<Profile, CodecError> {
    decode_profile_with(bytes, true)
}

/// Decodes a stored profile without its caller edges: enough to compare it, and it
/// skips most of the work. Every function's caller range is empty in the result.
pub fn decode_profile_functions(bytes: &[u8]) -> Result<Profile, CodecError> {
    decode_profile_with(bytes, false)
}

fn len32(n: usize) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| CodecError::Damaged("table too large"))
}

/// A little-endian reader over a byte slice that never panics.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Damaged("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn f64(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.arr()?))
    }
}

fn decode_profile_with(bytes: &[u8], with_edges: bool) -> Result<Profile, CodecError> {
    let Some(rest) = bytes.strip_prefix(PROFILE_MAGIC) else {
        // Version 1: MessagePack of the whole profile.
        let mut p: Profile = decode(bytes)?;
        if !with_edges {
            p.edges = Vec::new();
            for f in &mut p.functions {
                f.callers_start = 0;
                f.callers_end = 0;
            }
        }
        return Ok(p);
    };
    let mut c = Cursor(rest);
    let head_len = c.u32()? as usize;
    let head = inflate(c.take(head_len)?)?;
    let edge_frame = c.0;
    let mut h = Cursor(&head);
    let (header_len, nkeys, nfuncs) = (h.u32()? as usize, h.u32()? as usize, h.u32()? as usize);
    let header: Header = rmp_serde::from_slice(h.take(header_len)?)?;
    // Claimed counts are checked against the bytes present before anything is reserved.
    if h.0.len()
        != nkeys
            .saturating_mul(KEY_BYTES)
            .saturating_add(nfuncs.saturating_mul(FUNCTION_BYTES))
    {
        return Err(CodecError::Damaged("table sizes do not match"));
    }
    let nstrings = header.strings.len();
    let mut keys = Vec::with_capacity(nkeys);
    for _ in 0..nkeys {
        let k = FuncKey {
            file: h.u32()?,
            line: h.i64()?,
            name: h.u32()?,
        };
        if k.file as usize >= nstrings || k.name as usize >= nstrings {
            return Err(CodecError::Damaged("key names a missing string"));
        }
        keys.push(k);
    }
    let mut functions = Vec::with_capacity(nfuncs);
    for _ in 0..nfuncs {
        let key = h.u32()?;
        let stats = crate::profile::Stats {
            cc: h.i64()?,
            nc: h.i64()?,
            tt: h.f64()?,
            ct: h.f64()?,
        };
        let (start, end) = (h.u32()?, h.u32()?);
        if key as usize >= nkeys {
            return Err(CodecError::Damaged("function names a missing key"));
        }
        let (callers_start, callers_end) = if with_edges { (start, end) } else { (0, 0) };
        functions.push(Function {
            key,
            stats,
            callers_start,
            callers_end,
        });
    }
    let mut edges = Vec::new();
    if with_edges {
        let raw = inflate(edge_frame)?;
        if !raw.len().is_multiple_of(EDGE_BYTES) {
            return Err(CodecError::Damaged("edge table size"));
        }
        let n = raw.len() / EDGE_BYTES;
        let mut cols = Cursor(&raw);
        let (mut callers, mut nc, mut cc, mut tt, mut ct) = (
            Cursor(cols.take(4 * n)?),
            Cursor(cols.take(8 * n)?),
            Cursor(cols.take(8 * n)?),
            Cursor(cols.take(8 * n)?),
            Cursor(cols.take(8 * n)?),
        );
        edges.reserve_exact(n);
        for _ in 0..n {
            let caller = callers.u32()?;
            let (nc, cc, tt, ct) = (nc.i64()?, cc.i64()?, tt.f64()?, ct.f64()?);
            if caller as usize >= nkeys {
                return Err(CodecError::Damaged("edge names a missing key"));
            }
            let stats = if tt.is_nan() {
                let mut s = EdgeStats::count(nc);
                s.cc = cc;
                s
            } else {
                EdgeStats::timed(nc, cc, tt, ct)
            };
            edges.push(Edge { caller, stats });
        }
        for f in &functions {
            if f.callers_start > f.callers_end || f.callers_end as usize > edges.len() {
                return Err(CodecError::Damaged("caller range outside the edge table"));
            }
        }
    }
    Ok(Profile {
        name: header.name,
        strings: header.strings,
        keys,
        functions,
        edges,
        totals: header.totals,
        format: header.format,
        producer: header.producer,
    })
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
        let blob = encode_profile(&a).unwrap();
        let back = decode_profile(&blob).unwrap();
        assert_eq!(back.edges.len(), a.edges.len());
        assert_eq!(back.edges[0].stats.nc, 4);
        assert_eq!(back.keys, a.keys);
        assert_eq!(back.strings, a.strings);
        assert_eq!(back.totals, a.totals);
        assert_eq!(back.name, a.name);
        assert_eq!(back.functions, a.functions);
        assert_eq!(back.format, a.format);
        // The count-only edge keeps its "no times" marker.
        assert_eq!(back.edges[0].stats.tt(), None);
        let cmp = crate::jobs::engine::compare(&a, &b);
        let back: crate::jobs::engine::Comparison = decode(&encode(&cmp).unwrap()).unwrap();
        assert_eq!(back, cmp);
        assert!(decode::<Profile>(b"not zstd").is_err());
        assert!(decode_profile(b"not zstd").is_err());
        // The functions-only form has everything a comparison reads, and no edges.
        let head = decode_profile_functions(&blob).unwrap();
        assert!(head.edges.is_empty());
        assert!(head.functions.iter().all(|f| head.callers(f).is_empty()));
        assert_eq!(
            crate::compare::compare(&head, &b),
            crate::compare::compare(&a, &b)
        );
        // Version 1 blobs (MessagePack of the whole profile) still read back.
        let v1 = encode(&a).unwrap();
        assert_eq!(decode_profile(&v1).unwrap().functions, a.functions);
        assert!(decode_profile_functions(&v1).unwrap().edges.is_empty());
        // Every truncation is an error, never a panic.
        for cut in 0..blob.len() {
            assert!(decode_profile(&blob[..cut]).is_err(), "cut at {cut}");
        }
    }
}
