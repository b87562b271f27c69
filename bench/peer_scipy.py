#!/usr/bin/python3
"""SciPy benchmark peer for the coupled deep-linear-network effective theory.

    dphi_i/dt = Delta_i phi_i^D - phi_i^(2D+1) - gamma phi_i + sigma (m - phi_i),  m = <phi>

Integrates every coupling of the published 60-point grid for each chain
(protocol, depth, realization) with solve_ivp(RK45), the way the original
study did, and reports throughput plus the realization-averaged order parameter.
"""
import argparse
import json
import multiprocessing
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

GAMMA = 0.001
T_END = 10.0
SAMPLES = np.linspace(0.0, T_END, 100)
STATIONARY = slice(50, None)  # second half of the samples = stationary window
# Duplicates at 0.1 and 10 are kept on purpose: the published grid has them.
SIGMAS = np.concatenate([np.logspace(-2.2, -1, 15), np.logspace(-1, 1, 30),
                         np.logspace(1, 2.2, 15)])


def realization(seed, r, n):
    # Delta before phi0, one generator per realization, so every depth and
    # protocol of realization r (and the C++ code) sees identical disorder.
    rng = np.random.default_rng([seed, r])
    delta = rng.normal(0.0, 2.0, n)
    phi0 = rng.uniform(-1.7, 2.3, n)
    return delta, phi0


def rhs(t, phi, delta, depth, sigma):
    return (delta * phi**depth - phi**(2 * depth + 1) - (GAMMA + sigma) * phi
            + sigma * phi.mean())


def integrate(phi_start, delta, depth, sigma):
    """Return (ok, final state, order parameter, effective loss)."""
    sol = solve_ivp(rhs, (0.0, T_END), phi_start, method="RK45", rtol=1e-3,
                    atol=1e-6, t_eval=SAMPLES, args=(delta, depth, sigma))
    if sol.status != 0 or sol.y.shape[1] != SAMPLES.size or not np.all(np.isfinite(sol.y)):
        return False, None, np.nan, np.nan
    phi = sol.y[:, STATIONARY]
    order = abs(phi.mean(axis=0).mean())
    loss = np.mean(phi**(2 * (depth + 1)) - 2.0 * delta.mean() * phi**(depth + 1))
    return True, sol.y[:, -1], order, loss


def run_chain(task):
    protocol, depth, r, seed, n = task
    delta, phi0 = realization(seed, r, n)
    order = np.full(SIGMAS.size, np.nan)
    loss = np.full(SIGMAS.size, np.nan)
    failed = 0
    state = phi0
    for k in np.argsort(SIGMAS, kind="stable"):
        start = phi0 if protocol == "nonadiabatic" else state
        ok, final, order[k], loss[k] = integrate(start, delta, depth, SIGMAS[k])
        if ok:
            state = final
        else:
            # Keep the last good state so one failure does not poison the sweep.
            failed += 1
    return protocol, depth, r, order, loss, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--depths", default="0,1,2")
    ap.add_argument("--protocols", default="nonadiabatic,adiabatic_up")
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    depths = [int(d) for d in args.depths.split(",")]
    protocols = args.protocols.split(",")
    for p in protocols:
        if p not in ("nonadiabatic", "adiabatic_up"):
            ap.error(f"unknown protocol {p!r}")
    tasks = [(p, d, r, args.seed, args.units)
             for p in protocols for d in depths for r in range(args.runs)]

    if args.processes <= 1:
        t0 = time.perf_counter()
        results = [run_chain(t) for t in tasks]
        wall = time.perf_counter() - t0
    else:
        with multiprocessing.Pool(args.processes) as pool:
            t0 = time.perf_counter()
            # chunksize=1: chains differ a lot in cost (depth, protocol).
            results = pool.map(run_chain, tasks, chunksize=1)
            wall = time.perf_counter() - t0

    integrations = len(tasks) * SIGMAS.size
    failed = sum(res[5] for res in results)
    orders = {(p, d): [] for p in protocols for d in depths}
    for p, d, _, order, _, _ in results:
        orders[(p, d)].append(order)
    with np.errstate(all="ignore"):
        # nanmean: a failed integration is excluded rather than zeroing the average.
        mean_order = {key: np.nanmean(v, axis=0) for key, v in orders.items()}

    if args.json:
        clean = lambda a: [float(x) if np.isfinite(x) else None for x in a]
        out = {"integrations": integrations, "failed": failed,
               "wall_seconds": wall,
               "integrations_per_second": integrations / wall,
               "processes": args.processes,
               "mean_order_parameter": {p: {str(d): clean(mean_order[(p, d)])
                                            for d in depths} for p in protocols},
               "sigma": SIGMAS.tolist()}
        json.dump(out, sys.stdout)
        print()
        return

    print(f"integrations {integrations}  failed {failed}  wall {wall:.2f} s  "
          f"throughput {integrations / wall:.2f} integrations/s  "
          f"(processes {args.processes}, runs {args.runs}, N {args.units})")
    cols = range(0, SIGMAS.size, 6)
    print("mean order parameter |<m>| over realizations")
    print(f"{'protocol':<13}{'D':>2} " + "".join(f"{SIGMAS[k]:>9.3g}" for k in cols))
    for p in protocols:
        for d in depths:
            print(f"{p:<13}{d:>2} " + "".join(f"{mean_order[(p, d)][k]:>9.4f}" for k in cols))


if __name__ == "__main__":
    main()
