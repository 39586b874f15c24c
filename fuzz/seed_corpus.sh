#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the real fixtures (good, bad and edge dumps).
set -euo pipefail
cd "$(dirname "$0")"
for t in marshal pickle decode; do
  mkdir -p corpus/$t
  find ../tests/fixtures -type f \( -name '*.prof' -o -name '*.pstats' -o -name '*.pkl' -o -name '*.pyc' \) \
    -size -1100k -exec cp {} corpus/$t/ \;
done
