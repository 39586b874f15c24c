//! End-to-end tests of the service against the real Redis at 127.0.0.1:6379 (and, for
//! the outage test, a private redis-server). Each test has its own key prefix and data
//! dir and runs the real binary on a random port.

mod api;
mod batches;
mod common;
mod janitor;
mod limits;
mod openapi;
mod ops;
mod public;
mod resilience;
mod submit;
