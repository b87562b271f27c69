#!/usr/bin/env bash
# Regenerates what docs/horizons.md shows: the published finite-N experiment integrated to
# t = 1000 and seen at the horizons 10, 100 and 1000 (configs/horizons-paper.ini, ~3 min on
# 2 cores), the stationary branches (D = 0, 1, 2 and D = 0..8), the table of ordered windows
# and the two figures under docs/figures/. Run from anywhere after the build (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./build/cdl theory --config configs/horizons-paper.ini --overwrite --quiet
./build/cdl stationary --config configs/stationary-paper.ini --overwrite --quiet
./build/cdl stationary --depths 0,1,2,3,4,5,6,7,8 --sigma log:-2.2:2.2:300 \
  --output data/stationary-depths.h5 --overwrite --quiet
./build/cdl analyze data/horizons-paper.h5 --theory data/stationary-paper.h5 --quiet
mkdir -p docs/figures
PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot horizons data/horizons-paper.h5 \
  --theory data/stationary-paper.h5 --out docs/figures/horizons.png
PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot phase-depth data/stationary-depths.h5 \
  data/horizons-paper.h5 --out docs/figures/phase-depth.png
