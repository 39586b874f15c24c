#!/usr/bin/env python3
"""Load test of `profdiff serve`: N concurrent sessions each upload the synth_medium
pair, wait for both to parse, compare them and wait for the comparison.

Reports p50/p99 of upload -> comparison-ready, uploads/s, errors, the server's RSS and
Redis memory per session. Talks only to 127.0.0.1; bounded in count and time.

Superseded by benches/service_load.rs (`cargo bench --bench service_load`): this script's
own CPU (~75 ms per pair: 100 threads, urllib, 100 ms polls) was larger than the server's
and distorted the figures. Kept for machines without a Rust toolchain.

    cargo build --release --bin profdiff
    python3 benches/service_load.py --sessions 100
"""
import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def redis_cli(*args):
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, check=True).stdout


def used_memory():
    m = re.search(r"used_memory:(\d+)", redis_cli("info", "memory"))
    return int(m.group(1)) if m else 0


def multipart(files):
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, data in files:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def session(base, idx, files, barrier, results, deadline_s):
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    ua = {"User-Agent": f"bench-{idx}"}

    def call(method, path, body=None, ctype=None):
        headers = dict(ua)
        if ctype:
            headers["Content-Type"] = ctype
        req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
        try:
            with op.open(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    body, ctype = multipart(files)
    barrier.wait()
    t0 = time.monotonic()
    try:
        st, raw = call("POST", "/api/upload", body, ctype)
        if st != 202:
            raise RuntimeError(f"upload {st} {raw[:200]!r}")
        t_up = time.monotonic() - t0
        ids = [p["id"] for p in json.loads(raw)["profiles"]]
        while True:
            st, raw = call("GET", "/api/profiles")
            if st != 200:
                raise RuntimeError(f"profiles {st}")
            stat = {p["id"]: p["status"] for p in json.loads(raw)["profiles"]}
            if any(stat.get(i) == "failed" for i in ids):
                raise RuntimeError("parse failed")
            if all(stat.get(i) == "ready" for i in ids):
                break
            if time.monotonic() - t0 > deadline_s:
                raise RuntimeError("parse timeout")
            time.sleep(0.1)
        st, raw = call("POST", "/api/compare", json.dumps({"baseline": ids[0], "candidate": ids[1]}).encode(), "application/json")
        if st != 202:
            raise RuntimeError(f"compare {st} {raw[:200]!r}")
        cid = json.loads(raw)["comparison_id"]
        while True:
            st, raw = call("GET", f"/api/comparisons/{cid}?limit=50")
            if st == 200:
                break
            if st != 202:
                raise RuntimeError(f"comparison {st} {raw[:200]!r}")
            if time.monotonic() - t0 > deadline_s:
                raise RuntimeError("compare timeout")
            time.sleep(0.1)
        results[idx] = {"ok": True, "total": time.monotonic() - t0, "upload": t_up}
    except Exception as e:  # noqa: BLE001 - every failure is a counted error
        results[idx] = {"ok": False, "error": str(e), "total": time.monotonic() - t0}


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/profdiff"))
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--pair", default="synth_medium")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/")
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args()

    fx = os.path.join(ROOT, "tests/fixtures")
    files = [(f"{a.pair}_{s}.prof", open(os.path.join(fx, f"{a.pair}_{s}.prof"), "rb").read()) for s in ("before", "after")]
    prefix = f"pdbench:{uuid.uuid4().hex[:8]}:"
    data = tempfile.mkdtemp(prefix="profdiff-bench-")
    env = dict(os.environ, REDIS_URL=a.redis_url, REDIS_PREFIX=prefix, DATA_DIR=data,
               RUST_LOG="warn", JANITOR_INTERVAL_SECS="0", PROFDIFF_QUEUE_CAP="5000")
    mem0 = used_memory()
    srv = subprocess.Popen([a.bin, "serve", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                           stderr=open(os.path.join(data, "server.log"), "w"), env=env, text=True)
    try:
        line = srv.stdout.readline()
        m = re.search(r"(http://\S+)", line)
        if not m:
            sys.exit(f"server did not start: {line!r}")
        base = m.group(1)
        results = [None] * a.sessions
        barrier = threading.Barrier(a.sessions)
        threads = [threading.Thread(target=session, args=(base, i, files, barrier, results, a.timeout)) for i in range(a.sessions)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.timeout + 30)
        wall = time.monotonic() - t0
        status = open(f"/proc/{srv.pid}/status").read()
        rss = {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) // 1024 for k in ("VmRSS", "VmHWM")}
        mem1 = used_memory()
        stat = open(f"/proc/{srv.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        srv.terminate()
        try:
            srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()
        keys = redis_cli("--scan", "--pattern", f"{prefix}*").split()
        for i in range(0, len(keys), 500):
            redis_cli("del", *keys[i:i + 500])
        subprocess.run(["rm", "-rf", data])

    ok = [r for r in results if r and r["ok"]]
    errors = [r for r in results if not r or not r["ok"]]
    totals = [r["total"] for r in ok]
    report = {
        "sessions": a.sessions,
        "pair": a.pair,
        "ok": len(ok),
        "errors": len(errors),
        "error_samples": [r["error"] if r else "no result" for r in errors[:5]],
        "p50_s": round(pct(totals, 50), 3),
        "p99_s": round(pct(totals, 99), 3),
        "max_s": round(max(totals), 3) if totals else None,
        "wall_s": round(wall, 3),
        "uploads_per_s": round(2 * len(ok) / wall, 1),
        "server_cpu_s": round(cpu_s, 2),
        "server_rss_mib": rss["VmRSS"],
        "server_peak_rss_mib": rss["VmHWM"],
        "redis_bytes_per_session": (mem1 - mem0) // max(1, a.sessions),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
