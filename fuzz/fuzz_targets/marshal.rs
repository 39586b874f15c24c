#![no_main]
//! The marshal decoder on arbitrary bytes: must return Ok or Err, never panic or blow memory.

use libfuzzer_sys::fuzz_target;
use profdiff_workers::{decode::marshal, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = marshal::decode(data, "fuzz", Limits::for_input(data.len()));
});
