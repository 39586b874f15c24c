//! Benchmark driver used by `benches/engine_vs_pstats.py`: decodes one dump ROUNDS times
//! and prints JSON with the best/median wall time and the process's peak RSS, so the
//! Python script can put profdiff and pstats side by side in one run.

use std::time::Instant;

fn peak_rss_bytes() -> u64 {
    // VmHWM is the resident-set high-water mark; Linux only, 0 elsewhere.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), rounds) = (args.next(), args.next()) else {
        eprintln!("usage: decode_bench FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = rounds.and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let mut times = Vec::with_capacity(rounds);
    let mut functions = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let profile = match profdiff_workers::decode(&bytes, &path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2)
            }
        };
        times.push(start.elapsed().as_secs_f64());
        functions = profile.functions.len();
        drop(profile);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"best_s\": {}, \"median_s\": {}, \"functions\": {}, \"peak_rss_bytes\": {}, \"file_bytes\": {}}}",
        times[0],
        times[times.len() / 2],
        functions,
        peak_rss_bytes(),
        bytes.len()
    );
}
