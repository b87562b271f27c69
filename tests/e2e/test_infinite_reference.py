"""`cdl theory --units inf` against the independent brute-force reference, at test time.

`population_reference` (bench/population_reference.cpp, CMake target of the same name; its path
is `CDL_POPULATION_REFERENCE`, default build/population_reference) shares no code with cdl: it
integrates the whole coupled population of midpoint quantile nodes of (Δ, φ(0)) with its own
Cash–Karp integrator (bench/validation_points.md). For each depth D = 4, 5 and each disorder law
(normal, uniform, bimodal) one coupling inside the ordered window is computed by both, and

- cdl's status is done (its error estimate met --accuracy),
- |cdl − reference| ≤ --accuracy,
- |cdl − reference| ≤ cdl's estimate + the reference's uncertainty ("actual error ≤ estimate";
  the reference is not exact either, so its uncertainty is granted on top).

The couplings, σ ≈ 1.2 σ_c1 (the onset of the ordered window, where ⟨m⟩ is clearly nonzero but
the separatrix cuts through the bulk of the population, so the point is not trivially easy), from
`cdl stationary --depths 4,5 --gamma G --disorder LAW`:

| law, γ | D | σ_c1 | σ_c2 | σ |
| --- | --- | --- | --- | --- |
| normal:0:2, γ = 0.001 | 4 | 3.556 | 51.3 | 4.3 |
| | 5 | 3.705 | 48.31 | 4.5 |
| uniform:-4:4, γ = 0.01 | 4 | 1.759 | 38.25 | 2.1 |
| | 5 | 1.796 | 40.3 | 2.2 |
| bimodal:1.8:0.65, γ = 0.1 | 4 | 0.4467 | none up to σ = 1000 | 0.53 |
| | 5 | 0.626 | none up to σ = 1000 | 0.75 |

One more point is there for its history: D = 2, γ = 0.001, uniform:-4:4, σ = 10^−0.3 ≈ 0.501,
t_end = 10 (bench/validate_infinite.py), where rules A and B once agreed by chance: |A − B| was
8.7e-5 against an actual error of 2.7e-4, and the estimate is now the sum over disorder panels of
|A − B| per panel (src/theory/population_solver.hpp). Its reference ladder is the uniform one;
its uncertainty (≈ 6e-5) is small enough that the old estimate fails the check.

(bimodal:A:P is Δ = +A with probability P and −A with probability 1 − P, in cdl
(src/base/distribution.cpp) and in the reference.)

--accuracy 3e-3: the reference resolves it at test time (uncertainties ≤ 1.5e-3 for normal and
uniform; for bimodal the ladder agrees to all 10 printed digits), and at 3e-3 cdl still has to
refine, or to trust the estimate of its initial rule.

--t-end 5 instead of 10 for normal and uniform disorder: the reference's error comes from the
separatrix (units on either side end in different wells, so the midpoint grids see a jump and
converge as an oscillating O(1/n)), and the longer the horizon, the sharper the jump. At
t_end = 10 the normal D = 4 point still moves by 5e-3 between nΔ = 200 and 1600 (nφ = 100) and
needs 12 800 × 200 nodes (≈ 50 s) to settle to 1e-4; at t_end = 5 the 3200 × 100 value (≈ 2 s)
is within 7e-5 of the 12 800 × 100 one, and both programs need fewer steps. Uniform D = 5 at
t_end = 10 still moves by 2e-3 between nΔ = 200 and 800. ⟨m⟩ at t_end = 5 (the mean over
t ∈ [2.5, 5]) is mid-transient (it still grows towards t_end = 10: 0.28 → 0.37 for normal D = 4,
0.44 → 0.80 for uniform D = 5), not a trivial fixed point. Bimodal disorder keeps the default
t_end = 10: its reference is two atoms, 2 × 102 400 units integrate in about a second, so a
shorter horizon would not help the budget.

Reference ladders (the rule of population_reference's --points mode, bench/validation_points.md):
v the value at the finest grid, uncertainty = 1.5 max(|v − v(n/2)|, |v(n/2) − v(n/4)| / 2,
|v − v(n, n_init/2)|) with n the refined resolution:

- normal: nΔ = 800, 1600, 3200 at nφ = 100, and 3200 at nφ = 50 (the tail and separatrix error
  is in Δ);
- uniform: nΔ = 200, 400, 800 at nφ = 400, and 800 at nφ = 200 (uniform Δ has no tails; more
  of the error is the separatrix jump in φ(0), hence the finer φ(0) grid);
- bimodal: two atoms, the only resolution is nφ per atom: 25 600, 51 200, 102 400 (cheap: 2 × nφ
  units; the uncertainty has no nφ/2 term, the ladder is in φ(0)). D = 4, σ = 0.53: 0.4530701596,
  0.4530681171, 0.4530678992 (204 800: 0.4530679940), ± 1.5e-6.

The uncertainty is at least 1e-9 (printed digits and time integration).

The references run in setUpClass, two processes at a time on one thread each, together with the
closed-form check of the reference's bimodal weights. cdl runs on one thread too: its results do
not depend on the thread count, and on a loaded machine its 2-thread runs of these points were
10–100 times slower (D = 4 normal: 72 s instead of 0.7 s while another 2-thread job ran). A table
of all cases is printed to stderr at the end (about 12 s in all on an idle machine, 50 s loaded).

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_infinite_reference.py
"""

import math
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from e2e_support import REPO_ROOT, STATUS_DONE, STATUS_NAMES, clean_env, require_cdl, run_cdl

REFERENCE = Path(os.environ.get("CDL_POPULATION_REFERENCE")
                 or REPO_ROOT / "build" / "population_reference").resolve()

ACCURACY = 3e-3
SAFETY = 1.5  # population_reference's kSafety
# Below the ladder's reach: <m> is printed to 10 decimals, and the time integration (rtol 1e-8)
# agrees with rtol 1e-11 to 1e-10 (bench/validation_points.md; bimodal D = 4, 5 here too).
UNCERTAINTY_FLOOR = 1e-9

# (depth, gamma, disorder, sigma, t_end)
CASES = (
    (4, 0.001, "normal:0:2", 4.3, 5.0),
    (5, 0.001, "normal:0:2", 4.5, 5.0),
    (4, 0.01, "uniform:-4:4", 2.1, 5.0),
    (5, 0.01, "uniform:-4:4", 2.2, 5.0),
    (4, 0.1, "bimodal:1.8:0.65", 0.53, 10.0),
    (5, 0.1, "bimodal:1.8:0.65", 0.75, 10.0),
    (2, 0.001, "uniform:-4:4", 0.5011872336272722, 10.0),
)

# Per law: (n_disorder ladder, n_init) and the n_init of the cross check (None: no cross check).
LADDERS = {
    "normal": ((800, 1600, 3200), 100, 50),
    "uniform": ((200, 400, 800), 400, 200),
    "bimodal": (None, (25600, 51200, 102400), None),
}

RUN_LINE = re.compile(r"n_disorder\s+(\d+)\s+n_init\s+(\d+)\s+units\s+\d+\s+<m> ([0-9.naif]+)")


def setUpModule():
    require_cdl()
    if not (REFERENCE.is_file() and os.access(REFERENCE, os.X_OK)):
        raise RuntimeError(f"population_reference not found at {REFERENCE} "
                           "(set CDL_POPULATION_REFERENCE or build the target)")


def population_reference(depth, gamma, disorder, sigma, t_end, n_disorder, n_init):
    """{(n_disorder, n_init): <m>} for the Cartesian product of the lists (bimodal: n_disorder
    None, the two atoms), and the wall time."""
    args = [str(REFERENCE), "--depth", str(depth), "--gamma", repr(gamma), "--sigma", repr(sigma),
            "--disorder", disorder, "--t-end", repr(t_end), "--threads", "1",
            "--n-init", ",".join(map(str, n_init))]
    if n_disorder is not None:
        args += ["--n-disorder", ",".join(map(str, n_disorder))]
    start = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, timeout=600,
                            env=clean_env({"OMP_NUM_THREADS": "1"}))
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    values = {(int(nd), int(ni)): float(m) for nd, ni, m in RUN_LINE.findall(result.stdout)}
    return values, seconds


def reference_jobs(case):
    """The population_reference calls of one case: (n_disorder list, n_init list)."""
    law = case[2].split(":")[0]
    ladder, n_init, cross = LADDERS[law]
    if ladder is None:  # bimodal
        return [(None, n_init)]
    return [(ladder, (n_init,)), ((ladder[-1],), (cross,))]


def reference_value(case, values):
    """(reference, uncertainty, description of the ladder) from the runs of one case."""
    law = case[2].split(":")[0]
    ladder, n_init, cross = LADDERS[law]
    if ladder is None:
        chain = [values[(2, n)] for n in n_init]
        text = "nφ " + ", ".join(f"{n}: {v:.9f}" for n, v in zip(n_init, chain))
    else:
        chain = [values[(nd, n_init)] for nd in ladder]
        text = f"nφ {n_init}, nΔ " + ", ".join(f"{n}: {v:.7f}" for n, v in zip(ladder, chain))
    v = chain[-1]
    terms = [abs(chain[-1] - chain[-2]), abs(chain[-2] - chain[-3]) / 2]
    if cross is not None:
        half = values[(ladder[-1], cross)]
        terms.append(abs(v - half))
        text += f"; nφ {cross}: {half:.7f}"
    return v, max(SAFETY * max(terms), UNCERTAINTY_FLOOR), text


class InfiniteReferenceTest(unittest.TestCase):
    references = {}  # case -> (value, uncertainty, ladder text, seconds)
    rows = []

    @classmethod
    def setUpClass(cls):
        jobs = [(case, job) for case in CASES for job in reference_jobs(case)]
        # The closed form at D = 0 checks the reference's bimodal atoms and weights.
        closed = ((0, 0.01, "bimodal:1:0.2", 0.5, 10.0), (None, (37,)))
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(population_reference, *case, *job) for case, job in jobs]
            cls.closed_form = pool.submit(population_reference, *closed[0], *closed[1])
            results = [f.result() for f in futures]
            cls.closed_form = cls.closed_form.result()
        merged, seconds = {}, {}
        for (case, _), (values, wall) in zip(jobs, results):
            merged.setdefault(case, {}).update(values)
            seconds[case] = seconds.get(case, 0.0) + wall
        cls.references = {case: (*reference_value(case, merged[case]), seconds[case])
                          for case in CASES}

    @classmethod
    def tearDownClass(cls):
        if not cls.rows:
            return
        lines = ["", f"cdl theory --units inf --accuracy {ACCURACY:g} against "
                 "population_reference:",
                 "| D | γ | disorder | σ | t_end | reference ± unc. | cdl ± estimate | status | "
                 "actual | actual / estimate | bounded | reference s | cdl s |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines += cls.rows
        print("\n".join(lines), file=sys.stderr)

    def test_reference_closed_form_at_depth_zero(self):
        """D = 0: m' = E[Δ] − (1 + γ) m whatever σ, so ⟨m⟩ is known in closed form. bimodal:1:0.2
        has E[Δ] = −0.6: +1 must weigh 0.2 and −1 0.8."""
        values, _ = self.closed_form
        gamma, mean_delta, m0 = 0.01, 0.2 * 1 + 0.8 * -1, 0.3  # E[φ(0)] of U(-1.7, 2.3)
        t = 10.0 * np.arange(100) / 99
        m = mean_delta / (1 + gamma) + (m0 - mean_delta / (1 + gamma)) * np.exp(-(1 + gamma) * t)
        self.assertAlmostEqual(values[(2, 37)], abs(m[50:].mean()), delta=1e-9)

    def check(self, case):
        depth, gamma, disorder, sigma, t_end = case
        reference, uncertainty, ladder, reference_seconds = self.references[case]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "inf.h5")
            args = ["--units", "inf", "--depths", depth, "--gamma", repr(gamma),
                    "--disorder", disorder, "--sigma", repr(sigma), "--protocols", "nonadiabatic",
                    "--accuracy", repr(ACCURACY), "--t-end", repr(t_end), "--threads", "1",
                    "--quiet", "--output", out]
            start = time.monotonic()
            result = run_cdl("theory", args, cwd=tmp, timeout=300)
            cdl_seconds = time.monotonic() - start
            self.assertEqual(result.returncode, 0, f"cdl theory {' '.join(map(str, args))} "
                             f"failed:\n{result.stdout}\n{result.stderr}")
            with h5py.File(out, "r") as f:
                g = f["nonadiabatic"]
                value = float(g["order_parameter"][0, 0, 0])
                estimate = float(g["order_parameter_error"][0, 0, 0])
                status = int(g["status"][0, 0, 0])
        actual = abs(value - reference)
        ratio = actual / estimate if estimate > 0 else math.inf
        bounded = actual <= estimate + uncertainty
        self.rows.append(
            f"| {depth} | {gamma:g} | {disorder} | {sigma:g} | {t_end:g} | {reference:.7f} ± "
            f"{uncertainty:.1e} | {value:.7f} ± {estimate:.1e} | {STATUS_NAMES[status]} | "
            f"{actual:.1e} | {ratio:.2f} | {'yes' if bounded else 'no'} | "
            f"{reference_seconds:.1f} | {cdl_seconds:.1f} |")
        context = (f"D={depth} gamma={gamma:g} {disorder} sigma={sigma:g} t_end={t_end:g}: "
                   f"cdl {value:.9f} ± "
                   f"{estimate:.2e} ({STATUS_NAMES[status]}), reference {reference:.9f} ± "
                   f"{uncertainty:.2e} ({ladder}), actual {actual:.2e}")
        self.assertEqual(status, STATUS_DONE, context)
        self.assertLessEqual(actual, ACCURACY, context)
        self.assertLessEqual(actual, estimate + uncertainty,
                             "the error estimate is below the actual error: " + context)


def _make_test(case):
    def test(self):
        self.check(case)
    test.__doc__ = (f"D = {case[0]}, γ = {case[1]:g}, {case[2]}, σ = {case[3]:g}, "
                    f"t_end = {case[4]:g}")
    return test


for _case in CASES:
    setattr(InfiniteReferenceTest,
            f"test_D{_case[0]}_{_case[2].split(':')[0]}_sigma_{_case[3]:g}".replace(".", "_"),
            _make_test(_case))


if __name__ == "__main__":
    unittest.main()
