#!/usr/bin/env python3
"""Reference for the compare benchmark: what a Python user would run to get the same
`profdiff.comparison/v1` document with pstats. Usage: py_compare.py BASELINE CANDIDATE"""
import json
import os
import pstats
import sys


def side(path):
    st = pstats.Stats(path)
    summary = {
        "name": os.path.basename(path),
        "functions": len(st.stats),
        "total_calls": st.total_calls,
        "primitive_calls": st.prim_calls,
        "total_time": st.total_tt,
    }
    return summary, st.stats


def numbers(v):
    return None if v is None else {"cc": v[0], "nc": v[1], "tt": v[2], "ct": v[3]}


def main():
    a_sum, a = side(sys.argv[1])
    b_sum, b = side(sys.argv[2])
    rows = []
    for key in set(a) | set(b):
        va, vb = a.get(key), b.get(key)
        za = va or (0, 0, 0.0, 0.0)
        zb = vb or (0, 0, 0.0, 0.0)
        if va is None:
            status = "added"
        elif vb is None:
            status = "removed"
        elif tuple(va[:4]) == tuple(vb[:4]):
            status = "unchanged"
        else:
            status = "changed"
        rows.append({
            "file": key[0], "line": key[1], "name": key[2],
            "baseline": numbers(va), "candidate": numbers(vb),
            "delta": {"nc": zb[1] - za[1], "tt": float(zb[2] - za[2]), "ct": float(zb[3] - za[3])},
            "status": status,
        })
    rows.sort(key=lambda r: (-abs(r["delta"]["tt"]), r["file"], r["line"], r["name"]))
    json.dump({"schema": "profdiff.comparison/v1", "baseline": a_sum, "candidate": b_sum,
               "functions": rows}, sys.stdout)


if __name__ == "__main__":
    main()
