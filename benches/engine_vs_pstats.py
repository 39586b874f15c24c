#!/usr/bin/env python3
"""Side-by-side benchmark of profdiff's engine against Python's pstats, in one run.

    python3 benches/engine_vs_pstats.py [--rounds N]

Builds the release binaries, then measures on the same machine, back to back:
  1. decode of synth_large.prof: profdiff's decoder vs `pstats.Stats(path)` vs `marshal.load`
     (best of N in-process timings; peak RSS of a separate one-shot process each);
  2. `profdiff compare A B --format json` of the synth_medium pair vs `benches/py_compare.py`
     (whole processes, best of N wall times).
Prints a Markdown table with the ratios and the issue's targets.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def synth_large():
    shared = os.path.join(ROOT, "..", "shared", "fixtures", "synth_large.prof")
    if os.path.exists(shared):
        return os.path.abspath(shared)
    out = os.path.join(ROOT, "target", "bench-data", "synth_large.prof")
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        print(f"generating {out} (no ../shared/fixtures/synth_large.prof here)", file=sys.stderr)
        sh([sys.executable, os.path.join(ROOT, "benches", "gen_synth.py"), out])
    return out


PY_DECODE = r"""
import json, marshal, pstats, resource, sys, time
what, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(rounds):
    t = time.perf_counter()
    if what == "pstats":
        pstats.Stats(path)
    else:
        with open(path, "rb") as f:
            marshal.load(f)
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"best_s": times[0], "median_s": times[len(times) // 2],
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def py_decode(what, path, rounds):
    return json.loads(sh([sys.executable, "-c", PY_DECODE, what, path, str(rounds)]).stdout)


def rust_decode(path, rounds):
    exe = os.path.join(ROOT, "target", "release", "examples", "decode_bench")
    return json.loads(sh([exe, path, str(rounds)]).stdout)


def wall(cmd, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print("building release binaries...", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--bin", "profdiff", "-p", "profdiff"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--example", "decode_bench", "-p", "profdiff-workers"],
                   cwd=ROOT, check=True)
    large = synth_large()
    size = os.path.getsize(large)

    ours = rust_decode(large, args.rounds)
    ours_rss = rust_decode(large, 1)["peak_rss_bytes"]
    ps = py_decode("pstats", large, args.rounds)
    ps_rss = py_decode("pstats", large, 1)["peak_rss_bytes"]
    ml = py_decode("marshal", large, args.rounds)
    ml_rss = py_decode("marshal", large, 1)["peak_rss_bytes"]

    a = os.path.join(FIX, "synth_medium_before.prof")
    b = os.path.join(FIX, "synth_medium_after.prof")
    exe = os.path.join(ROOT, "target", "release", "profdiff")
    cmp_cmd = [exe, "compare", a, b, "--format", "json"]
    # Until `profdiff compare` works the decode rows are still worth having: say why the
    # compare rows are missing instead of dying with a CalledProcessError.
    probe = subprocess.run(cmp_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cmp_error = None
    if probe.returncode != 0:
        cmp_error = f"`profdiff compare` exited {probe.returncode}: {(probe.stderr.strip().splitlines() or [''])[0][:200]}"
        print(f"not measuring compare: {cmp_error}", file=sys.stderr)
        cmp_ours = None
    else:
        cmp_ours = wall(cmp_cmd, args.rounds)
    cmp_py = wall([sys.executable, os.path.join(ROOT, "benches", "py_compare.py"), a, b], args.rounds)

    mb = size / 1e6
    rows = [
        ("decode synth_large.prof (%.1f MB): profdiff" % mb, ours["best_s"], ours_rss, "", ""),
        ("decode: `pstats.Stats(path)`", ps["best_s"], ps_rss, ps["best_s"] / ours["best_s"], "≥ 25×"),
        ("decode: `marshal.load`", ml["best_s"], ml_rss, ml["best_s"] / ours["best_s"], "≥ 5×"),
        ("compare synth_medium pair, whole process: profdiff", cmp_ours and cmp_ours[0], None, "", ""),
        ("compare: pstats script (benches/py_compare.py)", cmp_py[0], None,
         cmp_ours and cmp_py[0] / cmp_ours[0], "≥ 20×"),
    ]
    print(f"\nrounds: {args.rounds} (best of); file sizes: synth_large {size} B")
    print("| what | best wall time | peak RSS | profdiff is faster by | target |")
    print("|---|---|---|---|---|")
    for name, t, rss, ratio, target in rows:
        rss_s = "" if rss is None else f"{rss / 1e6:.1f} MB ({rss / size:.2f}× file)"
        ratio_s = "not measured" if ratio is None else f"{ratio:.1f}×" if ratio != "" else ""
        t_s = "not measured" if t is None else f"{t * 1e3:.1f} ms"
        print(f"| {name} | {t_s} | {rss_s} | {ratio_s} | {target} |")
    print(f"\nprofdiff decode peak RSS / file size: {ours_rss / size:.2f} (target ≤ 3)")
    if cmp_error:
        print(f"\ncompare not measured: {cmp_error}")


if __name__ == "__main__":
    main()
