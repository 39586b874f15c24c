//! Bytes → [`Profile`]: sniff the container from the bytes (never the file name),
//! then run the matching bounded decoder.

pub mod marshal;
pub mod pickle;

use crate::profile::{Limits, Profile};

pub use self::marshal::MarshalError;
pub use self::pickle::PickleError;

/// Why a dump could not be decoded. Messages are user-facing.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty file (0 bytes)")]
    Empty,
    /// Recognisably something else (gzip, .pyc, text, ...).
    #[error("not a profile dump: {0}")]
    NotAProfile(String),
    /// Bigger than [`Limits::max_input_bytes`].
    #[error("too large: {len} bytes (limit {limit})")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// The budget.
        limit: usize,
    },
    /// The marshal decoder refused it.
    #[error(transparent)]
    Marshal(#[from] MarshalError),
    /// The pickle decoder refused it.
    #[error(transparent)]
    Pickle(#[from] PickleError),
}

/// The container a dump appears to be, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A marshal stream.
    Marshal,
    /// A pickle stream.
    Pickle,
}

/// Decodes a dump under the default budgets for its size. `name` is display text only.
pub fn decode(bytes: &[u8], name: &str) -> Result<Profile, DecodeError> {
    decode_with(bytes, name, Limits::for_input(bytes.len()))
}

/// Decodes a dump under explicit budgets.
pub fn decode_with(bytes: &[u8], name: &str, limits: Limits) -> Result<Profile, DecodeError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(DecodeError::InputTooLarge {
            len: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    match sniff(bytes)? {
        Container::Marshal => Ok(marshal::decode(bytes, name, limits)?),
        Container::Pickle => Ok(pickle::decode(bytes, name, limits)?),
    }
}

/// Tells marshal from pickle by the first bytes, and names common wrong uploads.
pub fn sniff(bytes: &[u8]) -> Result<Container, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Empty);
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(DecodeError::NotAProfile(
            "gzip-compressed data; decompress it first (gunzip) and upload the dump inside".into(),
        ));
    }
    // A .pyc: 2-byte magic number followed by b"\r\n", then flags and the marshalled code.
    if bytes.len() >= 16 && bytes[2..4] == *b"\r\n" {
        return Err(DecodeError::NotAProfile(
            "a compiled Python module (.pyc), not a profile dump".into(),
        ));
    }
    match first {
        // PROTO opcode: pickle protocol 2+.
        0x80 => Ok(Container::Pickle),
        // Protocol 0/1 pickles of a dict or a Stats object: MARK, EMPTY_DICT, GLOBAL.
        // `(` is also marshal's tuple code, followed by a 4-byte length; a pickle MARK is
        // followed by another opcode, which is always a printable ASCII byte.
        b'(' if bytes.get(1).is_some_and(|b| b.is_ascii_graphic()) => Ok(Container::Pickle),
        b'}' => Ok(Container::Pickle),
        b'c' if looks_like_pickle_global(bytes) => Ok(Container::Pickle),
        // Everything else is given to the marshal decoder, which names the type code it
        // does not expect; text gets a friendlier word first.
        _ if looks_like_text(bytes) => Err(DecodeError::NotAProfile(
            "plain text (perhaps a pstats report printed to a file); upload the binary dump written by `cProfile -o FILE` or `Stats.dump_stats`".into(),
        )),
        _ => Ok(Container::Marshal),
    }
}

fn looks_like_pickle_global(bytes: &[u8]) -> bool {
    // GLOBAL is `c` + "module\nname\n" in printable ASCII.
    let head = &bytes[1..bytes.len().min(128)];
    head.iter().position(|&b| b == b'\n').is_some_and(|nl| {
        nl > 0
            && head[..nl]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
    })
}

fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    // `{` is marshal's dict code, so it never counts as text here.
    head.len() >= 8
        && head[0] != b'{'
        && head
            .iter()
            .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_containers_and_wrong_uploads() {
        assert!(matches!(sniff(b""), Err(DecodeError::Empty)));
        assert!(matches!(
            sniff(&[0x1f, 0x8b, 8, 0]),
            Err(DecodeError::NotAProfile(_))
        ));
        assert_eq!(sniff(&[0x80, 4, 0x95]).unwrap(), Container::Pickle);
        assert_eq!(sniff(b"(dp0\n").unwrap(), Container::Pickle);
        assert_eq!(sniff(b"(\xff\xff\xff\x7f").unwrap(), Container::Marshal);
        assert_eq!(sniff(b"(\x01\x00\x00\x00(").unwrap(), Container::Marshal);
        assert_eq!(
            sniff(b"ccopy_reg\n_reconstructor\n").unwrap(),
            Container::Pickle
        );
        assert_eq!(sniff(&[0xfb, 0, 0]).unwrap(), Container::Marshal);
        assert_eq!(sniff(b"{\x00").unwrap(), Container::Marshal);
        assert!(matches!(
            sniff(b"   ncalls  tottime  percall\n"),
            Err(DecodeError::NotAProfile(_))
        ));
    }
}
