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

#[cfg(feature = "service")]
pub mod actors;
#[cfg(feature = "service")]
pub mod janitor;
#[cfg(feature = "service")]
pub mod jobs;
#[cfg(feature = "service")]
pub mod keyspace;
#[cfg(feature = "service")]
pub mod migrate;
#[cfg(feature = "service")]
pub mod stats;
#[cfg(feature = "service")]
pub mod store;

pub use decode::{decode, DecodeError};
pub use profile::{Limits, Profile};
