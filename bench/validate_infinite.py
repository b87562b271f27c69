#!/usr/bin/env python3
"""Checks `cdl theory --units inf` against the independent brute-force reference.

Reads bench/population_reference.csv (written by build/population_reference: midpoint quantile
populations integrated by its own integrator, no code shared with cdl), runs cdl on every
(depth, gamma, disorder) group at its couplings, and prints one markdown row per point: the
reference and its uncertainty, cdl's value and error estimate, the actual error and the ratio
actual / estimate. A point is bounded when actual <= estimate + the reference's uncertainty
(the reference is not exact either).

    /usr/bin/python3 bench/validate_infinite.py [--cdl build/cdl] [--threads 2] [cdl options...]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import h5py
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdl", default="build/cdl")
    parser.add_argument("--reference", default="bench/population_reference.csv")
    parser.add_argument("--threads", default="2")
    args, extra = parser.parse_known_args()

    groups = defaultdict(list)
    with open(args.reference) as f:
        for row in csv.DictReader(f):
            groups[(int(row["depth"]), row["gamma"], row["disorder"])].append(row)

    print("| D | γ | disorder | σ | reference ± unc. | cdl ± estimate | status | actual | "
          "actual / estimate | bounded |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    worst_ratio, unbounded, total_seconds, points = 0.0, 0, 0.0, 0
    for (depth, gamma, disorder), rows in sorted(groups.items()):
        sigmas = ",".join(repr(float(r["sigma"])) for r in rows)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "inf.h5")
            start = time.time()
            subprocess.run([args.cdl, "theory", "--units", "inf", "--depths", str(depth),
                            "--gamma", gamma, "--disorder", disorder, "--sigma", sigmas,
                            "--protocols", "nonadiabatic", "--threads", args.threads,
                            "--quiet", "--output", out, *extra], check=True,
                           stdout=subprocess.DEVNULL)
            total_seconds += time.time() - start
            with h5py.File(out, "r") as f:
                g = f["nonadiabatic"]
                value = g["order_parameter"][0, 0]
                estimate = g["order_parameter_error"][0, 0]
                status = g["status"][0, 0]
                names = g["status"].attrs["flag_meanings"].split()
        for k, row in enumerate(rows):
            reference, uncertainty = float(row["reference"]), float(row["uncertainty"])
            actual = abs(value[k] - reference)
            ratio = actual / estimate[k] if estimate[k] > 0 else np.inf
            bounded = actual <= estimate[k] + uncertainty
            worst_ratio = max(worst_ratio, ratio if np.isfinite(ratio) else 0.0)
            unbounded += not bounded
            points += 1
            print(f"| {depth} | {gamma} | {disorder} | {float(row['sigma']):.4g} | "
                  f"{reference:.5f} ± {uncertainty:.1e} | {value[k]:.5f} ± {estimate[k]:.1e} | "
                  f"{names[status[k]]} | {actual:.1e} | {ratio:.2f} | "
                  f"{'yes' if bounded else '**no**'} |")
    print(f"\n{points} points, {unbounded} not bounded, largest actual/estimate {worst_ratio:.2f}, "
          f"cdl time {total_seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
