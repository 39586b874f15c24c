#!/usr/bin/env python3
"""Writes a large synthetic cProfile-shaped dump (deterministic), for benchmarks on a
machine without ../shared/fixtures/synth_large.prof. Usage: gen_synth.py OUT [FUNCTIONS]"""
import marshal
import random
import sys


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 55882
    rng = random.Random(20261204)
    keys = [(f"/home/dev/synth_large/pkg{i // 500}/mod{i // 50}.py", 10 + i % 50 * 7, f"func_{i}")
            for i in range(n)]
    keys += [("~", 0, f"<built-in method builtins.b{i}>") for i in range(200)]
    stats = {}
    for i, key in enumerate(keys):
        # A few hubs with very many callers, most functions with one to six.
        fan = 22362 if i == 0 else (2000 if i % 5000 == 1 else rng.randint(1, 6))
        callers = {}
        for _ in range(fan):
            c = keys[rng.randrange(len(keys))]
            nc = rng.randint(1, 1000)
            callers[c] = (nc, nc, rng.random() / 1e3, rng.random() / 1e2)
        nc = sum(v[0] for v in callers.values())
        tt = sum(v[2] for v in callers.values())
        ct = sum(v[3] for v in callers.values())
        stats[key] = (nc, nc, tt, ct, callers)
    with open(out, "wb") as f:
        marshal.dump(stats, f)


if __name__ == "__main__":
    main()
