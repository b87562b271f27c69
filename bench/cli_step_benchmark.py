"""The coupled step through `cdl micro` itself against this machine's matrix-multiply rate.

    /usr/bin/python3 bench/cli_step_benchmark.py [--repeats 3]

Runs the published MNIST network (784 -> 20 -> 20 -> 10, D = 2, 10 units, batch 32, float32,
ReLU, biases, cross-entropy) on one thread as an adiabatic chain of 5 couplings, at two step
counts; the difference of the wall times removes the start-up (process, reading the digits,
the file), so what is left is everything a step costs on the command-line path: the minibatch
gather, the loss, the gradient, the coupling and the records every 500 steps. The all-data
reference network trains once per chain as many steps as a point (1/50 of the work here) and
is included. Between the runs, `cdl_micro_bench <s> gemm` measures Eigen's single-thread
float32 matrix multiply (1024^2, and the step's own 20x784x32 shape) in the same session, so
that the fraction is not skewed by this shared machine's drifting speed. Needs the digits
(scripts/fetch_mnist.sh) and a build (build/cdl, build/cdl_micro_bench).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CDL = REPO / "build" / "cdl"
BENCH = REPO / "build" / "cdl_micro_bench"
COUPLINGS = 5
UNITS, BATCH, LAYERS = 10, 32, [(784, 20), (20, 20), (20, 10)]


def flops_per_step():
    # Forward and weight gradient per layer, and the input gradient except for the first.
    return UNITS * sum((2 if l == 0 else 3) * 2 * n_in * n_out * BATCH
                       for l, (n_in, n_out) in enumerate(LAYERS))


def cdl_seconds(steps_per_coupling, out):
    half = str(steps_per_coupling // 2)
    args = [str(CDL), "micro", "--config", "configs/paper-fig3.ini", "--depths", "2",
            "--protocols", "adiabatic_up", "--sigma", f"lin:1:1.4:{COUPLINGS}",
            "--transient-steps", half, "--measure-steps", half, "--record-every", "500",
            "--threads", "1", "--quiet", "--overwrite", "--output", out]
    start = time.perf_counter()
    subprocess.run(args, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def gemm_rates(seconds):
    text = subprocess.run([str(BENCH), str(seconds), "gemm"], check=True, capture_output=True,
                          text=True).stdout
    return json.loads(text)["gemm_gflops_1_thread"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--short", type=int, default=1000, help="steps per coupling, short run")
    parser.add_argument("--long", type=int, default=3000, help="steps per coupling, long run")
    options = parser.parse_args()
    if not (REPO / "data" / "mnist" / "train-images-idx3-ubyte").exists():
        sys.exit("needs data/mnist: run scripts/fetch_mnist.sh")
    step_seconds, gemm_1024, gemm_shape = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.h5")
        for _ in range(options.repeats):
            rates = gemm_rates(1.0)
            gemm_1024.append(rates["float32_1024"])
            gemm_shape.append(rates["float32_step_shape"])
            short = cdl_seconds(options.short, out)
            long = cdl_seconds(options.long, out)
            step_seconds.append((long - short) / (COUPLINGS * (options.long - options.short)))
    # Medians on both sides: neither the step nor the multiply gets its luckiest moment.
    rate = flops_per_step() / statistics.median(step_seconds) / 1e9
    print(json.dumps({
        "cli_step_microseconds": [round(s * 1e6, 1) for s in step_seconds],
        "cli_gflops_median": round(rate, 1),
        "gemm_float32_1024_gflops": gemm_1024,
        "gemm_float32_step_shape_gflops": gemm_shape,
        "fraction_of_gemm_1024": round(rate / statistics.median(gemm_1024), 3),
        "fraction_of_gemm_step_shape": round(rate / statistics.median(gemm_shape), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
