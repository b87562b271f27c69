#!/usr/bin/env bash
# One-stop set-up on Debian 12: installs what is missing (Debian packages only), builds in
# Release, then either runs the main job (`run`) or the whole test suite (`test`).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ pkg-config libeigen3-dev libhdf5-dev zlib1g-dev libboost-program-options-dev catch2
          python3 python3-numpy python3-h5py python3-xarray python3-h5netcdf)
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
cmake --build build -j "$(nproc)"

case "${1:-run}" in
  run) exec ./build/cdl theory --overwrite ;;
  test) exec ctest --test-dir build --output-on-failure -j 2 ;;
  *) echo "usage: scripts/setup.sh run|test" >&2; exit 2 ;;
esac
