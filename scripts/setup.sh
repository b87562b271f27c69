#!/usr/bin/env bash
# One-stop set-up on Debian 12: installs what is missing (Debian packages only), builds in
# Release, then either runs the main job (`run`) or the whole test suite (`test`).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ pkg-config libeigen3-dev libhdf5-dev zlib1g-dev libboost-program-options-dev catch2
          python3 python3-numpy python3-h5py python3-xarray python3-h5netcdf
          python3-matplotlib jupyter-nbconvert python3-nbconvert python3-nbformat python3-ipykernel)
# The array-job test runs a private single-node SLURM cluster (tests/e2e/slurm_cluster.py).
[ "${1:-run}" != test ] || packages+=(slurmctld slurmd slurm-client munge)
# The analysis package's installation test (pip install ./analysis into a venv, no network).
[ "${1:-run}" != test ] || packages+=(python3-pip python3-venv python3-setuptools python3-wheel)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# The main job needs only the executable; the tests need every target (tests, benchmarks).
if [ "${1:-run}" = run ]; then
  cmake --build build -j "$(nproc)" --target cdl
else
  cmake --build build -j "$(nproc)"
fi

case "${1:-run}" in
  run)
    # The published experiment on its embedded default, its transitions, and the figure.
    ./build/cdl theory --overwrite
    ./build/cdl analyze data/theory.h5 --quiet
    PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot order data/theory.h5 \
      --out data/theory-order.png
    ;;
  test) exec ctest --test-dir build --output-on-failure -j 2 ;;
  *) echo "usage: scripts/setup.sh run|test" >&2; exit 2 ;;
esac
