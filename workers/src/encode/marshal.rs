//! A marshal dump of the stats dict, as `pstats.Stats.dump_stats` writes it, using
//! version-4 type codes (small tuples, short ASCII strings, binary floats) that every
//! Python 3.4+ `marshal.load` reads. No references (FLAG_REF) are emitted: every object
//! is written in full, which costs some bytes for repeated file names and nothing else.

use crate::profile::{EdgeStats, Profile, Stats};

const TYPE_NULL: u8 = b'0';
const TYPE_INT: u8 = b'i';
const TYPE_LONG: u8 = b'l';
const TYPE_BINARY_FLOAT: u8 = b'g';
const TYPE_UNICODE: u8 = b'u';
const TYPE_ASCII: u8 = b'a';
const TYPE_SHORT_ASCII: u8 = b'z';
const TYPE_SMALL_TUPLE: u8 = b')';
const TYPE_DICT: u8 = b'{';

/// Writes the stats dict `{(file, line, name): (cc, nc, tt, ct, callers)}` in the
/// profile's key order; callers map to `(nc, cc, tt, ct)` or, for `profile` counts, an int.
pub fn write(p: &Profile) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * (p.functions.len() + p.edges.len()) + 16);
    out.push(TYPE_DICT);
    for f in &p.functions {
        key(&mut out, p, f.key);
        let Stats { cc, nc, tt, ct } = f.stats;
        out.extend([TYPE_SMALL_TUPLE, 5]);
        int(&mut out, cc);
        int(&mut out, nc);
        float(&mut out, tt);
        float(&mut out, ct);
        out.push(TYPE_DICT);
        for e in p.callers(f) {
            key(&mut out, p, e.caller);
            edge(&mut out, &e.stats);
        }
        out.push(TYPE_NULL);
    }
    out.push(TYPE_NULL);
    out
}

fn key(out: &mut Vec<u8>, p: &Profile, id: u32) {
    let (file, line, name) = p.key_parts(id);
    out.extend([TYPE_SMALL_TUPLE, 3]);
    string(out, file);
    int(out, line);
    string(out, name);
}

fn edge(out: &mut Vec<u8>, s: &EdgeStats) {
    match (s.tt(), s.ct()) {
        (Some(tt), Some(ct)) => {
            out.extend([TYPE_SMALL_TUPLE, 4]);
            int(out, s.nc);
            int(out, s.cc);
            float(out, tt);
            float(out, ct);
        }
        // A bare `profile` call count (nc and cc carry the same number).
        _ => int(out, s.nc),
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if s.is_ascii() && len < 256 {
        out.push(TYPE_SHORT_ASCII);
        out.push(len as u8);
    } else {
        out.push(if s.is_ascii() {
            TYPE_ASCII
        } else {
            TYPE_UNICODE
        });
        // Strings in a Profile are bounded by Limits::max_string_bytes (1 MiB), far
        // below marshal's 2^31 limit; saturate rather than wrap if that ever changes.
        out.extend(u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    }
    out.extend(s.as_bytes());
}

fn int(out: &mut Vec<u8>, v: i64) {
    if let Ok(small) = i32::try_from(v) {
        out.push(TYPE_INT);
        out.extend(small.to_le_bytes());
        return;
    }
    // TYPE_LONG: signed digit count, then base-2^15 digits, least significant first.
    let mut mag = v.unsigned_abs();
    let mut digits = Vec::with_capacity(5);
    while mag != 0 {
        digits.push((mag & 0x7fff) as u16);
        mag >>= 15;
    }
    let n = digits.len() as i32;
    out.push(TYPE_LONG);
    out.extend((if v < 0 { -n } else { n }).to_le_bytes());
    for d in digits {
        out.extend(d.to_le_bytes());
    }
}

fn float(out: &mut Vec<u8>, v: f64) {
    out.push(TYPE_BINARY_FLOAT);
    out.extend(v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Limits, ProfileBuilder, SourceFormat};

    #[test]
    fn encodes_ints_like_marshal() {
        let enc = |v: i64| {
            let mut o = Vec::new();
            int(&mut o, v);
            o
        };
        assert_eq!(enc(5), [b'i', 5, 0, 0, 0]);
        assert_eq!(enc(-1), [b'i', 0xff, 0xff, 0xff, 0xff]);
        // marshal.dumps(2**31) == b'l\x03\x00\x00\x00\x00\x00\x00\x00\x02\x00'
        assert_eq!(enc(1 << 31), [b'l', 3, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
        // marshal.dumps(-2**63) == b'l\xfb\xff\xff\xff' + 00 00 00 00 00 00 00 00 08 00
        assert_eq!(
            enc(i64::MIN),
            [b'l', 0xfb, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0]
        );
    }

    #[test]
    fn writes_a_stats_dict() {
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        let (f, n) = (b.intern("é.py").unwrap(), b.intern("f").unwrap());
        let k = b.key(f, 1, n);
        b.begin_function(
            k,
            Stats {
                cc: 1,
                nc: 2,
                tt: 0.5,
                ct: 1.0,
            },
        )
        .unwrap();
        b.add_caller(k, EdgeStats::count(1)).unwrap();
        let p = b.finish("x", SourceFormat::Marshal { version: 4 }).unwrap();
        let out = write(&p);
        let mut want = vec![b'{', b')', 3, b'u', 5, 0, 0, 0];
        want.extend("é.py".as_bytes());
        want.extend([b'i', 1, 0, 0, 0, b'z', 1, b'f']);
        want.extend([b')', 5, b'i', 1, 0, 0, 0, b'i', 2, 0, 0, 0, b'g']);
        want.extend(0.5f64.to_le_bytes());
        want.push(b'g');
        want.extend(1.0f64.to_le_bytes());
        want.push(b'{');
        want.extend([b')', 3, b'u', 5, 0, 0, 0]);
        want.extend("é.py".as_bytes());
        want.extend([
            b'i', 1, 0, 0, 0, b'z', 1, b'f', b'i', 1, 0, 0, 0, b'0', b'0',
        ]);
        assert_eq!(out, want);
    }

    /// Python's pstats must load what we write, with every number and string intact.
    #[test]
    fn pstats_loads_the_dump() {
        let python = std::process::Command::new("python3")
            .arg("--version")
            .output();
        if !python.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "NOTICE: python3 not found; skipping the pstats round trip of the marshal writer"
            );
            return;
        }
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        let long_ascii = "x".repeat(300);
        let texts = [
            "/home/dev/naïve_модуль_模块/m.py",
            "~",
            "<built-in method builtins.len>",
            "<code object <module>, file \"/a.py\", line 1>",
            long_ascii.as_str(),
            "main",
        ];
        let syms: Vec<u32> = texts.iter().map(|t| b.intern(t).unwrap()).collect();
        let k =
            |b: &mut ProfileBuilder, f: usize, line: i64, n: usize| b.key(syms[f], line, syms[n]);
        let main = k(&mut b, 0, 10, 5);
        let len = k(&mut b, 1, 0, 2);
        let code = k(&mut b, 4, -3, 3);
        b.begin_function(
            main,
            Stats {
                cc: i64::MAX - 3,
                nc: i64::MIN,
                tt: 0.1,
                ct: -2.5e-300,
            },
        )
        .unwrap();
        b.add_caller(code, EdgeStats::count(1 << 40)).unwrap();
        b.begin_function(
            len,
            Stats {
                cc: 3,
                nc: 3,
                tt: 1e-9,
                ct: 0.30000000000000004,
            },
        )
        .unwrap();
        b.add_caller(main, EdgeStats::timed(3, 2, 1e-9, 5e-10))
            .unwrap();
        b.add_caller(code, EdgeStats::timed(-1, -1, 0.0, -0.0))
            .unwrap();
        b.begin_function(
            code,
            Stats {
                cc: 0,
                nc: 0,
                tt: 0.0,
                ct: 1.5,
            },
        )
        .unwrap();
        let p = b.finish("x", SourceFormat::Marshal { version: 4 }).unwrap();
        let path =
            std::env::temp_dir().join(format!("profdiff-marshal-{}.prof", std::process::id()));
        std::fs::write(&path, write(&p)).unwrap();
        let script = r#"
import json, pstats, sys
s = pstats.Stats(sys.argv[1])
out = {"total_calls": s.total_calls, "prim_calls": s.prim_calls, "total_tt": s.total_tt,
       "stats": [[list(k), list(v[:4]), [[list(ck), cv if isinstance(cv, int) else list(cv)]
                 for ck, cv in v[4].items()]] for k, v in s.stats.items()]}
print(json.dumps(out, ensure_ascii=False))
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let key = |id: u32| {
            let (f, l, n) = p.key_parts(id);
            serde_json::json!([f, l, n])
        };
        let stats: Vec<serde_json::Value> = p
            .functions
            .iter()
            .map(|f| {
                let callers: Vec<serde_json::Value> = p
                    .callers(f)
                    .iter()
                    .map(|e| match (e.stats.tt(), e.stats.ct()) {
                        (Some(tt), Some(ct)) => {
                            serde_json::json!([key(e.caller), [e.stats.nc, e.stats.cc, tt, ct]])
                        }
                        _ => serde_json::json!([key(e.caller), e.stats.nc]),
                    })
                    .collect();
                let s = f.stats;
                serde_json::json!([key(f.key), [s.cc, s.nc, s.tt, s.ct], callers])
            })
            .collect();
        let want = serde_json::json!({
            "total_calls": p.totals.total_calls,
            "prim_calls": p.totals.primitive_calls,
            "total_tt": p.totals.total_time,
            "stats": stats,
        });
        assert_eq!(got, want);
    }

    /// decode → write → decode keeps every entry, edge and total of every fixture dump.
    #[test]
    fn round_trips_every_fixture_through_our_decoder() {
        use crate::report::ProfileDocument;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let mut names: Vec<String> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file"].as_str().unwrap().to_owned())
            .filter(|n| n != "synth_large.prof")
            .collect();
        names.extend(
            [
                "edge/int_times.prof",
                "edge/windows_paths.prof",
                "edge/surrogate_filename.prof",
            ]
            .map(String::from),
        );
        for name in names {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            let p = crate::decode(&bytes, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let again = crate::decode(&write(&p), &name)
                .unwrap_or_else(|e| panic!("{name} rewritten: {e}"));
            assert_eq!(again.totals, p.totals, "{name}");
            assert_eq!(
                ProfileDocument::from_profile(&again),
                ProfileDocument::from_profile(&p),
                "{name}"
            );
            let keys = |p: &Profile| -> Vec<(String, i64, String)> {
                p.functions
                    .iter()
                    .map(|f| {
                        let (a, b, c) = p.key_parts(f.key);
                        (a.to_owned(), b, c.to_owned())
                    })
                    .collect()
            };
            assert_eq!(keys(&again), keys(&p), "{name}: key order");
        }
    }
}
