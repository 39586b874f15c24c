#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the real fixtures (good, bad and edge dumps), plus
# tiny dumps made here with Python (a 3-function profile in every marshal version and pickle
# protocol): small seeds that still cover the whole shape keep the fuzzer fast.
set -euo pipefail
cd "$(dirname "$0")"
for t in marshal pickle decode; do
  mkdir -p corpus/$t
  find ../tests/fixtures -type f \( -name '*.prof' -o -name '*.pstats' -o -name '*.pkl' -o -name '*.pyc' \) \
    -size -1100k -exec cp {} corpus/$t/ \;
done
if command -v python3 >/dev/null; then
  python3 - <<'PY'
import cProfile, marshal, pickle, pstats

def leaf(n):
    return sum(range(n))

def mid(n):
    return [leaf(i) for i in range(n)]

pr = cProfile.Profile()
pr.enable()
mid(3)
pr.disable()
st = pstats.Stats(pr)
# Keep only our 3 functions (plus builtins they call) so the seeds stay a few hundred bytes.
stats = {k: v for k, v in st.stats.items() if k[2] in ("leaf", "mid", "<listcomp>") or k[0] == "~"}
for t in ("marshal", "pickle", "decode"):
    for v in range(5):
        with open(f"corpus/{t}/tiny.marshal-v{v}.prof", "wb") as f:
            f.write(marshal.dumps(stats, v))
    for p in range(6):
        with open(f"corpus/{t}/tiny.p{p}.pkl", "wb") as f:
            f.write(pickle.dumps(stats, protocol=p))
    st.stats = stats
    st.stream = None
    for p in (0, 2, 5):
        with open(f"corpus/{t}/tiny.statsobj.p{p}.pkl", "wb") as f:
            f.write(pickle.dumps(st, protocol=p))
PY
fi
