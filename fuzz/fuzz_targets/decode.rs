#![no_main]
//! Sniffing plus whichever decoder it picks, as the CLI and the workers call it.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = profdiff_workers::decode(data, "fuzz");
});
