//! The route table, without dependencies so the service tests can include this file.

/// Every registered (method, path), kept next to `configure`; the service tests check
/// each one is in the document and actually routed.
// Only tests read it: the service tests include this file, `openapi.rs` tests compare.
#[allow(dead_code)]
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/debug/all-sessions"),
    ("POST", "/api/upload"),
    ("GET", "/api/profiles"),
    ("GET", "/api/profiles/{id}"),
    ("DELETE", "/api/profiles/{id}"),
    ("GET", "/api/profiles/{id}/graph"),
    ("GET", "/api/comparisons/{id}/summary"),
    ("GET", "/api/jobs/{id}"),
    ("POST", "/api/compare"),
    ("GET", "/api/comparisons/{id}"),
    ("POST", "/api/batches"),
    ("GET", "/api/batches/{id}"),
    ("POST", "/api/clear"),
    ("GET", "/api/session-info"),
    ("GET", "/api/ops/stats"),
    ("GET", "/metrics"),
    ("GET", "/ops"),
    ("GET", "/ops/ops.js"),
    ("GET", "/ops/ops.css"),
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("GET", "/assets/{name}"),
];
