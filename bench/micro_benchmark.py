#!/usr/bin/python3
"""Coupled-step throughput of `cdl micro` against the PyTorch peer, side by side on this machine.

Runs build/cdl_micro_bench (C++, Eigen) and bench/peer_torch.py (PyTorch: a per-network loop
as the authors would write it, and batched implementations) one after the other at the
published real-data scale (10 networks 784 -> [20]xD -> 10, ReLU, biases, batch 32,
cross-entropy) and prints steps per second, the ratios, and the fraction of this machine's
matrix-multiply rate a step reaches.

    /usr/bin/python3 bench/micro_benchmark.py [--seconds 2] [--json out.json]

Needs Debian's python3-torch with OpenBLAS (apt-get install python3-torch libopenblas0-pthread).
The peer runs with OPENBLAS_CORETYPE=SkylakeX unless set otherwise: OpenBLAS 0.3.21 does not
recognise this machine's CPU and would fall back to AVX2 kernels at half the speed, while the
C++ side uses AVX-512 (bench/RESULTS.md). Both sides report medians of three timings.
"""
import statistics
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args()

    runs = [json.loads(subprocess.run([str(ROOT / "build" / "cdl_micro_bench"), str(args.seconds)],
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(3)]
    ours = runs[0]
    for i, row in enumerate(ours["steps"]):
        for key in ("steps_per_second_1_thread", "steps_per_second_2_threads"):
            row[key] = statistics.median(r["steps"][i][key] for r in runs)
    for key in ours["gemm_gflops_1_thread"]:
        ours["gemm_gflops_1_thread"][key] = statistics.median(
            r["gemm_gflops_1_thread"][key] for r in runs)
    with tempfile.TemporaryDirectory() as tmp:
        peer_json = Path(tmp) / "peer.json"
        subprocess.run(["/usr/bin/python3", str(ROOT / "bench" / "peer_torch.py"), "--depths",
                        "0,1,2", "--seconds", str(args.seconds), "--threads", "1,2", "--json",
                        str(peer_json)], check=True, stdout=subprocess.DEVNULL,
                       env={"OPENBLAS_CORETYPE": "SkylakeX", **os.environ})
        peer = json.loads(peer_json.read_text())

    def peer_rate(impl, dtype, depth, threads):
        for r in peer["results"]:
            if (r["impl"], r["dtype"], r["depth"], r["threads"]) == (impl, dtype, depth, threads):
                return r["steps_per_s"]
        return float("nan")

    gemm = ours["gemm_gflops_1_thread"]
    print(f"{'':8}{'':4}{'cdl 1 thr':>11}{'cdl 2 thr':>11}{'loop 1':>9}{'loop 2':>9}"
          f"{'batched 1':>11}{'batched 2':>11}{'vs loop':>9}{'vs batched':>11}{'GEMM frac':>10}")
    for row in ours["steps"]:
        dtype, depth = row["precision"], row["depth"]
        one, two = row["steps_per_second_1_thread"], row["steps_per_second_2_threads"]
        loop = [peer_rate("loop", dtype, depth, t) for t in (1, 2)]
        batched = [max(peer_rate("batched-manual", dtype, depth, t),
                       peer_rate("batched-autograd", dtype, depth, t)) for t in (1, 2)]
        # Machine throughput: our two independent ensembles on two threads against the peer's
        # best use of the two cores (one process with 2 threads, or two 1-thread processes).
        best_loop = max(loop[1], 2 * loop[0])
        best_batched = max(batched[1], 2 * batched[0])
        fraction = one * row["flops_per_step"] / 1e9 / gemm[f"{dtype}_1024"]
        print(f"{dtype:8}D={depth:<2}{one:11.0f}{two:11.0f}{loop[0]:9.0f}{loop[1]:9.0f}"
              f"{batched[0]:11.0f}{batched[1]:11.0f}{two / best_loop:9.1f}"
              f"{two / best_batched:11.1f}{fraction:10.2f}")
    print(f"Eigen GEMM 1 thread (GFLOP/s): {json.dumps(gemm)}")
    print(f"PyTorch {peer.get('torch_version')} on {peer.get('blas', {}).get('name')}")
    if args.json:
        Path(args.json).write_text(json.dumps({"cdl": ours, "peer": peer}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
