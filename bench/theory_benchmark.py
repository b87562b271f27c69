#!/usr/bin/python3
"""`cdl theory` on the complete published workload, side by side with the SciPy peer.

Runs `cdl theory --config configs/paper-fig2.ini` (72 000 integrations) with 1 and 2 threads,
recording wall time and peak memory, then the SciPy peer (bench/peer_scipy.py, solve_ivp RK45
at the same tolerances, same dynamics and observables) on a subset of realizations with the
same number of processes, and prints throughputs and their ratio. Needs python3-scipy.

    /usr/bin/python3 bench/theory_benchmark.py [--peer-runs 4]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cdl(threads, output):
    command = [os.path.join(ROOT, "build", "cdl"), "theory", "--config",
               os.path.join(ROOT, "configs", "paper-fig2.ini"), "--output", output,
               "--overwrite", "--quiet", "--threads", str(threads)]
    start = time.perf_counter()
    # A fresh child per measurement so that ru_maxrss is this run's peak alone.
    pid = os.fork()
    if pid == 0:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"cdl failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-runs", type=int, default=4,
                        help="realizations for the SciPy peer (it is ~100x slower)")
    args = parser.parse_args()
    integrations = 200 * 3 * 2 * 60
    print(f"machine: {os.cpu_count()} cores; {os.uname().machine}; "
          f"{open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        figures = {}
        for threads in (1, 2):
            wall, peak = run_cdl(threads, os.path.join(tmp, "paper-fig2.h5"))
            figures[threads] = integrations / wall
            print(f"cdl theory, paper-fig2 ({integrations} integrations), {threads} thread(s): "
                  f"{wall:.2f} s wall, {integrations / wall:.0f} integrations/s, peak RSS {peak:.0f} MiB")
    peer = {}
    for processes in (1, 2):
        out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "peer_scipy.py"),
                              "--runs", str(args.peer_runs), "--processes", str(processes), "--json"],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        peer[processes] = result["integrations_per_second"]
        print(f"scipy solve_ivp RK45 peer, {processes} process(es): {result['integrations']} "
              f"integrations in {result['wall_seconds']:.1f} s, "
              f"{result['integrations_per_second']:.1f} integrations/s")
    print(f"speed-up, 1 core: {figures[1] / peer[1]:.0f}x; both cores: {figures[2] / peer[2]:.0f}x")


if __name__ == "__main__":
    main()
