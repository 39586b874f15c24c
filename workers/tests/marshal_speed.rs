//! Quick speed/memory check on the 9.9 MB synthetic dump (not in the repo: benchmarks
//! read it from `PROFDIFF_SYNTH_LARGE`, default /work/shared/fixtures/synth_large.prof).
//! Run: `cargo test --release -p profdiff-workers --test marshal_speed -- --ignored --nocapture`

use std::time::Instant;

use profdiff_workers::decode::marshal;
use profdiff_workers::profile::Limits;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "measurement; needs synth_large.prof"]
fn decode_synth_large() {
    let path = std::env::var("PROFDIFF_SYNTH_LARGE")
        .unwrap_or_else(|_| "/work/shared/fixtures/synth_large.prof".into());
    let bytes = std::fs::read(&path).expect("synth_large.prof");
    let before = peak_rss_kib();
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let t = Instant::now();
        let p = marshal::decode(&bytes, "synth_large.prof", Limits::for_input(bytes.len()))
            .expect("decodes");
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(p.len(), 55882);
    }
    println!(
        "synth_large: {} bytes, best decode {:.1} ms, peak RSS {:?} KiB (before decoding {:?} KiB)",
        bytes.len(),
        best * 1e3,
        peak_rss_kib(),
        before
    );
}
