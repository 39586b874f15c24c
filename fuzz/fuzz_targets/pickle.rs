#![no_main]
//! The pickle decoder on arbitrary bytes: must return Ok or Err, never panic or blow memory.

use libfuzzer_sys::fuzz_target;
use profdiff_workers::{decode::pickle, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = pickle::decode(data, "fuzz", Limits::for_input(data.len()));
});
