#!/usr/bin/env bash
# The exchange schemes on the digits with configs/micro-schemes.ini: one file per scheme under
# data/, then the accuracy against sigma and against communication (data/schemes-*.png).
# Needs the build (scripts/setup.sh) and the digits (scripts/fetch_mnist.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
for scheme in diffusion dsgd fedavg:10 easgd gossip; do
  out="data/schemes-${scheme%%:*}.h5"
  ./build/cdl micro --config configs/micro-schemes.ini --scheme "$scheme" --output "$out" \
    --overwrite --quiet >/dev/null
  files+=("$out")
done
PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot schemes "${files[@]}" \
  --out data/schemes-accuracy.png
PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot communication "${files[@]}" \
  --out data/schemes-communication.png
