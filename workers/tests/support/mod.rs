//! Test-only helpers: fixture paths and a marshal writer (see `writer`).
#![allow(dead_code)]

pub mod writer;

use std::path::PathBuf;

/// `tests/fixtures` of the repository (never the shared copy).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
}

/// Bytes of a fixture, by path relative to `tests/fixtures`.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The parsed `manifest.json`.
pub fn manifest() -> serde_json::Value {
    serde_json::from_slice(&read_fixture("manifest.json")).expect("manifest.json is JSON")
}
