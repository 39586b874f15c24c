//! profdiff's job side. Today: the pure profile engine (model, decoders, comparison).
//!
//! Data flow: raw bytes → [`decode`] (sniff + marshal/pickle) → [`profile::Profile`]
//! → [`compare`] / [`merge`] → documents rendered by the CLI or served by the web tier.

pub mod compare;
pub mod decode;
pub mod encode;
pub mod merge;
pub mod profile;
pub mod report;

pub use decode::{decode, DecodeError};
pub use profile::{Limits, Profile};
