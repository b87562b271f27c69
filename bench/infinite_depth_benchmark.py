#!/usr/bin/python3
"""`cdl theory --units inf` per depth: one N → ∞ point for each D = 1…8, timed on 1 and 2 threads.

The published setting: γ = 0.001, disorder normal:0:2, initial states uniform:-1.7:2.3,
t_end = 10 (100 samples), non-adiabatic protocol, --accuracy 1e-3 (cdl's default). The coupling
is σ = 10 for every depth, inside each depth's ordered window (`cdl stationary --depths 1,…,8`:
σ_c1 ≈ 3.0–4.0, σ_c2 ≈ 48–127 for D ≥ 2, none below σ = 158 for D = 1). With --onset every depth
also gets σ = 1.1 σ_c1, σ_c1 computed by `cdl stationary` at the same γ, disorder and initial
states (the onset of the ordered window, where the separatrix cuts through the population and
the adaptive quadrature has the most to do).

Per point: the best wall time of --repeat runs on each thread count (the machine is shared and
its speed drifts), ⟨m⟩ (nonadiabatic/order_parameter), its error estimate
(order_parameter_error), the status (0 done: estimate ≤ accuracy; 6 not_converged) and the
integration steps (nonadiabatic/steps), read from the 1-thread run; the column "1 = 2" says
whether the 2-thread run wrote the same ⟨m⟩, estimate, status and steps (cdl promises results
independent of the thread count). Prints a markdown table; --json writes everything, with the
machine, the load average before and after, and cdl's version and git state.

Reproduce (a few seconds per point; D = 8 and the onset points are the slow ones):

    cmake --build build -j2 --target cdl
    /usr/bin/python3 bench/infinite_depth_benchmark.py --onset --repeat 3 --json /tmp/inf_depth.json

Options: --cdl PATH (build/cdl), --depths 1,…,8, --sigma 10, --onset, --onset-factor 1.1,
--accuracy 1e-3, --t-end 10, --threads 1,2, --repeat 1; any further arguments are passed to
`cdl theory` unchanged.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

REPO = Path(__file__).resolve().parents[1]
GAMMA = "0.001"
DISORDER = "normal:0:2"
INIT = "uniform:-1.7:2.3"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state():
    def git(*args):
        result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "modified": changed.splitlines() if changed else []}


def onset_couplings(cdl, depths, tmp):
    """{D: sigma_c1} from `cdl stationary` at the published gamma, disorder and init."""
    out = os.path.join(tmp, "stationary.h5")
    subprocess.run([cdl, "stationary", "--depths", ",".join(map(str, depths)), "--gamma", GAMMA,
                    "--disorder", DISORDER, "--init", INIT, "--output", out, "--overwrite",
                    "--quiet", "--threads", "2"], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(out, "r") as f:
        return {int(d): float(s) for d, s in zip(f["critical/depth"][()],
                                                 f["critical/sigma_c1"][()])}


def run_point(cdl, depth, sigma, threads, args, extra, out):
    """One `cdl theory --units inf` run: wall seconds and the point's results."""
    command = [cdl, "theory", "--units", "inf", "--depths", str(depth), "--sigma", repr(sigma),
               "--gamma", GAMMA, "--disorder", DISORDER, "--init", INIT,
               "--protocols", "nonadiabatic", "--t-end", args.t_end, "--accuracy", args.accuracy,
               "--threads", str(threads), "--output", out, "--overwrite", "--quiet", *extra]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"cdl failed: {' '.join(command)}\n{result.stderr}")
    with h5py.File(out, "r") as f:
        g = f["nonadiabatic"]
        point = {"order_parameter": float(g["order_parameter"][0, 0, 0]),
                 "estimate": float(g["order_parameter_error"][0, 0, 0]),
                 "status": int(g["status"][0, 0, 0]),
                 "steps": int(g["steps"][0, 0, 0])}
        point["status_name"] = g["status"].attrs["flag_meanings"].split()[point["status"]]
    return wall, point


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdl", default=str(REPO / "build" / "cdl"))
    parser.add_argument("--depths", default="1,2,3,4,5,6,7,8")
    parser.add_argument("--sigma", type=float, default=10.0)
    parser.add_argument("--onset", action="store_true",
                        help="also sigma = onset-factor * sigma_c1 per depth")
    parser.add_argument("--onset-factor", type=float, default=1.1)
    parser.add_argument("--accuracy", default="1e-3")
    parser.add_argument("--t-end", default="10")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeat", type=int, default=1, help="best wall time of this many runs")
    parser.add_argument("--json", help="write the results here")
    args, extra = parser.parse_known_args()
    depths = [int(d) for d in args.depths.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]

    version = subprocess.run([args.cdl, "--version"], capture_output=True,
                             text=True).stdout.splitlines()
    report = {"machine": {"cores": os.cpu_count(), "cpu": cpu_model(),
                          "load_before": os.getloadavg()},
              "cdl": args.cdl, "cdl_version": version[0] if version else None, "git": git_state(),
              "options": {"gamma": GAMMA, "disorder": DISORDER, "init": INIT,
                          "t_end": args.t_end, "accuracy": args.accuracy,
                          "repeat": args.repeat, "extra": extra},
              "points": []}
    with tempfile.TemporaryDirectory() as tmp:
        couplings = [(d, args.sigma, None) for d in depths]
        if args.onset:
            sigma_c1 = onset_couplings(args.cdl, depths, tmp)
            missing = [d for d in depths if not sigma_c1[d] == sigma_c1[d]]  # NaN: none in grid
            if missing:
                print(f"no sigma_c1 in cdl stationary's grid for D = {missing}: no onset point",
                      file=sys.stderr)
            couplings += [(d, args.onset_factor * sigma_c1[d], sigma_c1[d])
                          for d in depths if d not in missing]
        for depth, sigma, c1 in couplings:
            entry = {"depth": depth, "sigma": sigma, "sigma_c1": c1, "wall_seconds": {}}
            results = {}
            for threads in thread_counts:
                best = None
                for _ in range(args.repeat):
                    wall, point = run_point(args.cdl, depth, sigma, threads, args, extra,
                                            os.path.join(tmp, "inf.h5"))
                    best = wall if best is None else min(best, wall)
                entry["wall_seconds"][threads] = best
                results[threads] = point
            entry.update(results[thread_counts[0]])
            entry["same_on_all_thread_counts"] = all(r == results[thread_counts[0]]
                                                     for r in results.values())
            report["points"].append(entry)
            print(f"D={depth} sigma={sigma:.4g}: <m> {entry['order_parameter']:.6f} ± "
                  f"{entry['estimate']:.1e} {entry['status_name']}, {entry['steps']} steps, "
                  + ", ".join(f"{t} thread(s) {s:.2f} s" for t, s in entry["wall_seconds"].items()),
                  file=sys.stderr, flush=True)
    report["machine"]["load_after"] = os.getloadavg()

    print(f"cdl theory --units inf, γ = {GAMMA}, {DISORDER}, init {INIT}, t_end {args.t_end}, "
          f"--accuracy {args.accuracy}, non-adiabatic; best of {args.repeat}; "
          f"{report['machine']['cores']} cores ({report['machine']['cpu']}), load average "
          f"{report['machine']['load_before'][0]:.1f} before, "
          f"{report['machine']['load_after'][0]:.1f} after; git {report['git']['commit']}"
          f"{' + uncommitted changes' if report['git']['modified'] else ''}")
    print()
    times = " | ".join(f"{t} thread{'s' if t > 1 else ''} (s)" for t in thread_counts)
    print(f"| D | σ | σ / σ_c1 | ⟨m⟩ | estimate | status | steps | {times} | 1 = 2 |")
    print("| --- | --- | --- | --- | --- | --- | --- | " + "--- | " * len(thread_counts) + "--- |")
    for p in report["points"]:
        ratio = f"{p['sigma'] / p['sigma_c1']:.2f}" if p["sigma_c1"] else "–"
        walls = " | ".join(f"{p['wall_seconds'][t]:.2f}" for t in thread_counts)
        print(f"| {p['depth']} | {p['sigma']:.4g} | {ratio} | {p['order_parameter']:.6f} | "
              f"{p['estimate']:.1e} | {p['status_name']} | {p['steps']} | {walls} | "
              f"{'yes' if p['same_on_all_thread_counts'] else '**no**'} |")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
