//! profdiff's job side: the pure profile engine (model, decoders, comparison,
//! statistics) and, with the `service` feature, jobs, storage and the janitor.
//!
//! Data flow: raw bytes → [`decode`] (sniff + marshal/pickle) → [`profile::Profile`]
//! → [`compare`] / [`merge`] → documents rendered by the CLI or served by the web tier.

pub mod compare;
pub mod decode;
pub mod encode;
pub mod merge;
pub mod profile;
pub mod report;
pub mod stats;

#[cfg(feature = "service")]
pub mod actors;
#[cfg(feature = "service")]
pub mod janitor;
#[cfg(feature = "service")]
pub mod jobs;
#[cfg(feature = "service")]
pub mod keyspace;
#[cfg(feature = "service")]
pub mod metrics;
#[cfg(feature = "service")]
pub mod migrate;
#[cfg(feature = "service")]
pub mod store;

pub use decode::{decode, DecodeError};
pub use profile::{Limits, Profile};
