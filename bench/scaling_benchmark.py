"""Speed-up from 1 to 2 threads, and parallel efficiency, of the workloads of issue 13.

    /usr/bin/python3 bench/scaling_benchmark.py [--repeats 2] [--only NAME]

Each workload runs with --threads 1 and 2, `repeats` times each (best wall time kept: the
machine is a shared VM whose speed drifts); CPU time is the child's user + system time.
Efficiency = CPU time / (wall time x threads). Prints a markdown table for bench/RESULTS.md.
The micro workloads need the MNIST digits (scripts/fetch_mnist.sh).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CDL = REPO / "build" / "cdl"
FIG3 = ["micro", "--config", "configs/paper-fig3.ini", "--transient-steps", "1000",
        "--measure-steps", "1000", "--record-every", "500"]
WORKLOADS = {
    "theory paper-fig2 (published finite-N workload)": ["theory", "--config",
                                                        "configs/paper-fig2.ini"],
    "theory --units inf, published grid, nonadiabatic": ["theory", "--units", "inf",
                                                         "--protocols", "nonadiabatic"],
    "theory --units inf, one adiabatic chain (D = 2, published grid)": [
        "theory", "--units", "inf", "--protocols", "adiabatic_up", "--depths", "2"],
    "micro configs/micro-quick.ini": ["micro", "--config", "configs/micro-quick.ini"],
    "micro paper-fig3 slice: 3 depths, 1 run, 6 couplings, 2000 steps each":
        [*FIG3, "--sigma", "log:-4:1:6"],
    "micro paper-fig3, one adiabatic chain (D = 2, 4 couplings)":
        [*FIG3, "--depths", "2", "--protocols", "adiabatic_up", "--sigma", "0.5,1,2,4"],
    "micro paper-fig3, one non-adiabatic point (D = 2, sigma = 1)":
        [*FIG3, "--depths", "2", "--sigma", "1"],
}


def run(args, threads, out):
    start = time.perf_counter()
    child = subprocess.Popen([str(CDL), *args, "--threads", str(threads), "--quiet",
                              "--overwrite", "--output", out], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"cdl {' '.join(args)} failed: {child.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default="")
    options = parser.parse_args()
    if not (REPO / "data" / "mnist" / "train-images-idx3-ubyte").exists():
        sys.exit("the micro workloads need data/mnist: run scripts/fetch_mnist.sh")
    print("| workload | 1 thread | 2 threads | speed-up | efficiency (2 threads) |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.h5")
        for name, args in WORKLOADS.items():
            if options.only not in name:
                continue
            best = {}
            for threads in (1, 2):
                best[threads] = min((run(args, threads, out) for _ in range(options.repeats)),
                                    key=lambda r: r[0])
            (w1, c1), (w2, c2) = best[1], best[2]
            print(f"| {name} | {w1:.2f} s (CPU {c1:.2f} s) | {w2:.2f} s (CPU {c2:.2f} s) | "
                  f"{w1 / w2:.2f} | {c2 / (2 * w2):.0%} |", flush=True)


if __name__ == "__main__":
    main()
