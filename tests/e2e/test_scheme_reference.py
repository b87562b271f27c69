"""Every exchange scheme against its published update, replayed independently in numpy (float64).

`scheme_trace` (tests/scheme_trace.cpp) runs 20 steps of `cdl`'s ensemble (8 tanh networks
5 -> 6 -> 6 -> 4 with biases on a synthetic classes task, batch 3) and writes the parameters
before and after every step, the minibatch gradients the units used, who exchanged, the units'
sample counts and the graph. The replay below takes only the initial parameters, the gradients,
the choices and the counts, and applies the update as the papers write it, in matrix form where
they do (docs/physics.md §1):

- diffusion: Θ ← Θ + τ[(σ/N) L Θ − G − γΘ], L = A − diag(degree)  (the model's equation)
- dsgd: Θ ← ((1 − τσ) I + τσ W) Θ − τ(G + γΘ), W Metropolis–Hastings (Lian et al. 2017, Alg. 1)
- fedavg:K:C: local SGD; every K steps the sampled clients S move towards Σ_{k∈S} n_k θ_k / Σ n_k
  by min(1, Kτσ), n_k their sample counts (McMahan et al. 2017, Algorithm 1)
- easgd: x_i ← x_i − τ(g_i + γx_i + σ(x_i − x̃)), x̃ ← x̃ + τσ Σ_i (x_i − x̃), both from the old
  values (Zhang, Choromanska & LeCun 2015, eqs. 5-6 with α = ηρ, β = Nα)
- gossip: local SGD, then every pair (i, j) of a random maximal matching averages by
  α = min(1/2, τσ 2|E|/N²) (Boyd et al. 2006, pairwise averaging)

cdl's trajectory must stay within 1e-12 of the replay over all 20 steps, with partial
participation, unequal sample counts (iid: 7 and 6 samples), a ring and an irregular graph, the
same bits on 1 and 2 threads, and the communication count equal to what the update sends.
"""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

from e2e_support import REPO_ROOT

TRACE = Path(os.environ.get("CDL_SCHEME_TRACE") or REPO_ROOT / "build" / "tests" / "scheme_trace")
TOLERANCE = 1e-12


def setUpModule():
    if not (TRACE.is_file() and os.access(TRACE, os.X_OK)):
        raise RuntimeError(f"scheme_trace not found at {TRACE} (set CDL_SCHEME_TRACE or build it)")


def parse_scheme(text):
    """(kind, K, C, equal_weights) from cdl's spelling."""
    fields = text.split(":")
    if fields[0] != "fedavg":
        return fields[0], 1, 1.0, False
    period = int(fields[1])
    fraction = float(fields[2]) if len(fields) > 2 else 1.0
    return "fedavg", period, fraction, len(fields) > 3 and fields[3] == "equal"


def metropolis_hastings(adjacency):
    degree = adjacency.sum(axis=1)
    n = len(degree)
    weights = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if adjacency[i, j]:
                weights[i, j] = 1.0 / (1.0 + max(degree[i], degree[j]))
        weights[i, i] = 1.0 - weights[i].sum()
    return weights


class Trace:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.theta = f["theta"][()]  # [step, unit, parameter]
            self.centre = f["centre"][()]
            self.gradients = f["gradients"][()]
            self.participants = f["participants"][()]
            self.pairs = f["pairs"][()]
            self.counts = f["sample_counts"][()].astype(float)
            self.adjacency = f["adjacency"][()].astype(float)
            self.tau = float(f.attrs["tau"])
            self.gamma = float(f.attrs["gamma"])
            self.sigma = float(f.attrs["sigma"])
            self.scheme = f.attrs["scheme"]
            self.sent = float(f.attrs["sent"])
            self.raw = {name: f[name][()].tobytes() for name in f}


def replay(trace, test):
    """The published update applied to the trace's initial parameters with its gradients and
    choices; checks the choices are legal on the way. Returns the trajectory, the centre's and
    the number of parameters sent."""
    kind, period, fraction, equal = parse_scheme(trace.scheme)
    tau, gamma, sigma = trace.tau, trace.gamma, trace.sigma
    adjacency = trace.adjacency
    n, parameters = trace.theta.shape[1], trace.theta.shape[2]
    edges = adjacency.sum() / 2
    theta = trace.theta[0].copy()
    centre = theta.mean(axis=0)
    thetas, centres, sent = [theta.copy()], [centre.copy()], 0.0
    for step, gradient in enumerate(trace.gradients):
        participants = [k for k in trace.participants[step] if k >= 0]
        pairs = [tuple(p) for p in trace.pairs[step] if p[0] >= 0]
        local = gradient + gamma * theta
        if kind == "diffusion":
            laplacian = adjacency - np.diag(adjacency.sum(axis=1))
            theta = theta + tau * (sigma / n * laplacian @ theta - local)
            sent += 2 * edges * parameters if sigma else 0
        elif kind == "dsgd":
            mixing = (1 - tau * sigma) * np.eye(n) + tau * sigma * metropolis_hastings(adjacency)
            theta = mixing @ theta - tau * local
            sent += 2 * edges * parameters if sigma else 0
        elif kind == "easgd":
            new_theta = theta - tau * (local + sigma * (theta - centre))
            centre = centre + tau * sigma * (theta - centre).sum(axis=0)
            theta = new_theta
            sent += 2 * n * parameters if sigma else 0
        elif kind == "fedavg":
            theta = theta - tau * local
            if sigma and (step + 1) % period == 0:
                test.assertEqual(len(participants), max(1, round(fraction * n)), step)
                test.assertEqual(len(set(participants)), len(participants))
                weights = np.ones(len(participants)) if equal else trace.counts[participants]
                mean = (weights / weights.sum()) @ theta[participants]
                pull = min(1.0, period * tau * sigma)
                theta[participants] += pull * (mean - theta[participants])
                sent += 2 * len(participants) * parameters
            else:
                test.assertEqual(participants, [], f"fedavg exchanged at step {step}")
        elif kind == "gossip":
            theta = theta - tau * local
            if sigma:
                matched = [u for pair in pairs for u in pair]
                test.assertEqual(len(matched), len(set(matched)), f"not a matching at {step}")
                for i, j in pairs:
                    test.assertTrue(adjacency[i, j], f"pair ({i}, {j}) is no edge")
                free = set(range(n)) - set(matched)
                for i in free:  # maximal: no edge left between two free units
                    test.assertFalse(any(adjacency[i, j] for j in free), f"step {step}")
                alpha = min(0.5, tau * sigma * 2 * edges / n**2)
                for i, j in pairs:
                    difference = theta[j] - theta[i]
                    theta[i] += alpha * difference
                    theta[j] -= alpha * difference
                sent += 2 * len(pairs) * parameters
            else:
                test.assertEqual(pairs, [])
        else:
            raise AssertionError(f"unknown scheme {kind}")
        thetas.append(theta.copy())
        centres.append(centre.copy())
    return np.array(thetas), np.array(centres), sent


class SchemeReferenceTest(unittest.TestCase):
    def trace(self, scheme, topology="complete", partition="iid", sigma=3.0, threads=1):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace.h5"
            subprocess.run([str(TRACE), scheme, topology, partition, str(sigma), str(threads),
                            str(path)], check=True, capture_output=True, timeout=60)
            return Trace(path)

    def check(self, scheme, topology="complete", partition="iid", sigma=3.0):
        trace = self.trace(scheme, topology, partition, sigma)
        thetas, centres, sent = replay(trace, self)
        error = np.abs(thetas - trace.theta).max()
        self.assertLess(error, TOLERANCE, f"{scheme} on {topology}: cdl differs by {error:.3g}")
        # The coupling must have acted: the replay without it is far away.
        if sigma:
            uncoupled = self.trace(scheme, topology, partition, 0.0)
            self.assertGreater(np.abs(uncoupled.theta - trace.theta).max(), 1e-4)
        if scheme == "easgd":
            self.assertLess(np.abs(centres - trace.centre).max(), TOLERANCE)
        self.assertEqual(trace.sent, sent, f"{scheme}: parameters sent")
        two_threads = self.trace(scheme, topology, partition, sigma, threads=2)
        self.assertEqual(trace.raw, two_threads.raw, f"{scheme}: 1 and 2 threads differ")
        return trace

    def test_sample_counts_are_unequal(self):
        counts = self.trace("diffusion").counts
        self.assertGreater(counts.max(), counts.min())

    def test_diffusion(self):
        for topology in ("complete", "ring:4", "er:0.4"):
            with self.subTest(topology=topology):
                self.check("diffusion", topology)

    def test_dsgd(self):
        for topology in ("complete", "ring:2", "er:0.4"):
            with self.subTest(topology=topology):
                self.check("dsgd", topology)

    def test_fedavg_weighted_partial_participation(self):
        for scheme, sigma in (("fedavg:2:0.5", 3.0), ("fedavg:2:0.5", 20.0), ("fedavg:1", 3.0),
                              ("fedavg:3:0.75", 3.0)):
            with self.subTest(scheme=scheme, sigma=sigma):
                trace = self.check(scheme, sigma=sigma)
                rounds = {tuple(row) for row in trace.participants if row[0] >= 0}
                if ":0." in scheme:
                    self.assertGreater(len(rounds), 1, "the same participants every round")

    def test_fedavg_equal_weights(self):
        self.check("fedavg:2:0.5:equal")

    def test_easgd(self):
        self.check("easgd")

    def test_gossip(self):
        for topology in ("complete", "ring:2", "ring:4", "er:0.4"):
            with self.subTest(topology=topology):
                self.check("gossip", topology)

    def test_no_communication_without_coupling(self):
        for scheme in ("diffusion", "dsgd", "fedavg:2:0.5", "easgd", "gossip"):
            with self.subTest(scheme=scheme):
                trace = self.check(scheme, sigma=0.0)
                self.assertEqual(trace.sent, 0.0)


if __name__ == "__main__":
    unittest.main()
