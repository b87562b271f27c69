"""End-to-end tests of the Python analysis package (analysis/cdl_analysis), its plot command, the
quick-sweep and horizons notebooks, and the agreement of `cdl analyze` with the Python estimators.

Run from the repository root with

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_analysis.py

`CDL_BIN` names the executable (default: build/cdl under the repository root). Needs Debian's
python3-matplotlib, jupyter-nbconvert, python3-nbformat and python3-ipykernel. The module makes
one quick theory sweep, one micro-quick sweep, one stationary file, a short sweep with three
observation horizons and a tiny N -> infinity sweep, and executes both notebooks in the
background meanwhile (SchemeFiguresTest makes three tiny micro sweeps of its own, one per
--scheme, and a teacher-task one, in about a second); the whole file takes about 35-40 s on
2 cores.
"""

import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np
from e2e_support import CDL, REPO_ROOT, require_cdl, run_cdl, start_cdl

ANALYSIS = REPO_ROOT / "analysis"
NOTEBOOKS = {name: ANALYSIS / "notebooks" / f"{name}.ipynb" for name in ("quick_sweep", "horizons")}
PYTHON = "/usr/bin/python3"

sys.path.insert(0, str(ANALYSIS))
from cdl_analysis import reader, transitions  # noqa: E402

TMP = None          # tempfile.TemporaryDirectory of the module
FILES = {}          # 'theory', 'micro', 'stationary', 'horizons', 'limit' -> path of a real file
NOTEBOOK_RUNS = {}  # notebook name -> its background nbconvert process and output paths

# The horizons sweep (t_end = 20) and the N -> infinity one (about a second) share the horizons
# 10 and 20; the sweep's 5 has no N -> infinity curve.
HORIZONS = (5.0, 10.0, 20.0)
LIMIT_HORIZONS = (10.0, 20.0)
HORIZONS_SWEEP = ("--runs", 6, "--units", 100, "--depths", "0,1,2", "--sigma", "log:-1.5:2:14",
                  "--t-end", 20, "--samples", 21, "--horizons", "5,10,20",
                  "--protocols", "nonadiabatic")
LIMIT_SWEEP = ("--units", "inf", "--depths", "1,2", "--sigma", "log:-1:1.5:6", "--t-end", 20,
               "--samples", 21, "--horizons", "10,20", "--accuracy", "1e-2",
               "--protocols", "nonadiabatic")


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ANALYSIS) + (os.pathsep + env["PYTHONPATH"]
                                         if env.get("PYTHONPATH") else "")
    env["CDL_BIN"] = str(CDL)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def run_cdl_or_raise(subcommand, *args, timeout=120):
    """`cdl SUBCOMMAND ARGS...` in the repository root; RuntimeError with its output if it fails."""
    result = run_cdl(subcommand, args, REPO_ROOT, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"cdl {' '.join(map(str, (subcommand, *args)))} failed "
                           f"({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def start_notebook(name, tmp):
    """nbconvert --execute of analysis/notebooks/NAME.ipynb in the background."""
    out = tmp / f"{name}-out.ipynb"
    log_path = tmp / f"{name}.log"
    log = open(log_path, "w")
    env = child_env()
    env["TMPDIR"] = str(tmp)   # the notebook's own temporary directory goes away with ours
    process = subprocess.Popen(
        [PYTHON, "-m", "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOKS[name]),
         "--output", str(out), "--ExecutePreprocessor.timeout=300"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    NOTEBOOK_RUNS[name] = dict(out=out, log_path=log_path, log=log, start=time.monotonic(),
                               process=process)


def setUpModule():
    global TMP
    require_cdl()
    TMP = tempfile.TemporaryDirectory(prefix="cdl-analysis-test-")
    tmp = Path(TMP.name)
    # The notebooks run their own sweeps: start them first, they overlap with everything below.
    for name in NOTEBOOKS:
        start_notebook(name, tmp)
    FILES["theory"] = tmp / "quick.h5"
    FILES["micro"] = tmp / "micro-quick.h5"
    FILES["stationary"] = tmp / "stationary.h5"
    FILES["horizons"] = tmp / "horizons.h5"
    FILES["limit"] = tmp / "horizons-inf.h5"
    limit = start_cdl("theory", [*map(str, LIMIT_SWEEP), "--output", str(FILES["limit"]),
                                 "--quiet"], REPO_ROOT)
    run_cdl_or_raise("theory", "--config", "configs/quick.ini", "--output", FILES["theory"],
                     "--quiet")
    run_cdl_or_raise("stationary", "--output", FILES["stationary"], "--quiet")
    run_cdl_or_raise("theory", *HORIZONS_SWEEP, "--output", FILES["horizons"], "--quiet")
    run_cdl_or_raise("micro", "--config", "configs/micro-quick.ini", "--output", FILES["micro"],
                     "--quiet")
    _, stderr = limit.communicate(timeout=120)
    if limit.returncode != 0:
        raise RuntimeError(f"cdl theory {' '.join(map(str, LIMIT_SWEEP))} failed "
                           f"({limit.returncode}):\n{stderr}")


def tearDownModule():
    for run in NOTEBOOK_RUNS.values():
        process = run["process"]
        if process.poll() is None:
            process.kill()
            process.wait()
        run["log"].close()
    if TMP is not None:
        TMP.cleanup()


def assert_bad_use(test, code, stdout, stderr, png):
    """Bad use of the plot command: exit 2, nothing on stdout, one line on stderr, no PNG."""
    test.assertEqual(code, 2, f"{stdout!r} {stderr!r}")
    test.assertEqual(stdout, "")
    line = stderr[:-1] if stderr.endswith("\n") else stderr
    test.assertTrue(line.strip())
    test.assertNotIn("\n", line, f"not one line: {stderr!r}")
    test.assertFalse(Path(png).exists())


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    data = Path(path).read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", data[16:24])


def done_mean_horizon(path, protocol="nonadiabatic"):
    """(depth, sigma, horizon, mean [depth, sigma, horizon]) straight from the file: the mean
    over the realizations of order_parameter_horizon at the points with status 0."""
    with h5py.File(path, "r") as f:
        g = f[protocol]
        done = g["status"][()] == 0
        values = np.where(done[..., None], g["order_parameter_horizon"][()], np.nan)
        return g["depth"][()], g["sigma"][()], g["horizon"][()], np.nanmean(values, axis=1)


# ----------------------------------------------------------------------------- synthetic files

def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def bump(x, x1, x2, width=0.15, base=0.1, height=0.6):
    """A rise around log10 sigma = x1 and a fall around x2: its half-height crossings (between
    the base at the ends and the plateau) are x1 and x2 to within exp(-(x2 - x1)/width)."""
    return base + height * logistic((x - x1) / width) * (1.0 - logistic((x - x2) / width))


def write_synthetic(path, curves, sigma, runs=30, units=40, seed=0, failed=(), shift=0.05,
                    amplitude=0.1, noise=0.02):
    """A cdl theory file with hand-made results: `order_parameter` of realization r =
    (1 + amplitude a_r) curve(log10 sigma - shift s_r) + noise e_(r, sigma), with a, s, e standard Gaussian: each realization has its own height
    and its own transition couplings (as a disorder realization has), plus independent noise per
    point. The mean over realizations has the half-height crossings of `curve` (shifts symmetric
    about 0, amplitudes about 1). `curves` maps protocol -> list (one per depth) of functions of
    x = log10 sigma; `failed` lists (protocol, depth index, run, sigma index) points given
    status 2 (diverged) and NaN."""
    rng = np.random.default_rng(seed)
    sigma = np.asarray(sigma, dtype=float)
    depths = np.arange(len(next(iter(curves.values()))), dtype=np.int32)
    with np.errstate(divide="ignore"):
        x = np.log10(sigma)
    # The layout is a real (very short) cdl theory sweep of that grid, so that the validating
    # reader accepts it; the hand-made values then replace its results.
    protocols = list(curves)
    run_cdl_or_raise("theory", "--depths", ",".join(map(str, depths)), "--runs", runs,
                     "--units", units, "--sigma", ",".join(repr(float(s)) for s in sigma),
                     "--protocols", ",".join(protocols), "--t-end", "0.01", "--samples", "2",
                     "--quiet", "--overwrite", "--output", path)
    with h5py.File(path, "r+") as f:
        for protocol, per_depth in curves.items():
            g = f[protocol]
            xs = np.where(sigma > 0, x, -9.0)[None, :] - shift * rng.standard_normal((runs, 1))
            heights = 1.0 + amplitude * rng.standard_normal((len(depths), runs, 1))
            op = heights * np.stack([curve(xs) for curve in per_depth])
            op += noise * rng.standard_normal(op.shape)
            status = np.zeros(op.shape, dtype=np.int8)
            for p, d, r, s in failed:
                if p == protocol:
                    status[d, r, s] = 2
            op[status != 0] = np.nan
            g["order_parameter"][...] = op
            g["loss"][...] = -op
            g["status"][...] = status
    return path


# The synthetic grid: sigma = 0 first (ignored by the estimators), 10^-2 .. 10^2 in 0.1
# decades, 10^0 twice and the order shuffled a little, as `cdl` keeps grids as given.
SYN_SIGMA = np.concatenate([[0.0], np.logspace(-2, 2, 41)[20:], [1.0], np.logspace(-2, 2, 41)[:20]])
X1, X2 = -0.63, 1.27                                 # nonadiabatic crossings (log10 sigma)
UP, DOWN = (-0.33, 1.44), (-0.81, 1.03)              # adiabatic sweeps: known widths 0.48, 0.41


def synthetic_curves():
    return {
        "nonadiabatic": [lambda x: bump(x, X1, X2), lambda x: bump(x, X1 + 0.3, X2 - 0.2)],
        "adiabatic_up": [lambda x: bump(x, *UP), lambda x: bump(x, UP[0] + 0.2, UP[1])],
        "adiabatic_down": [lambda x: bump(x, *DOWN), lambda x: bump(x, DOWN[0] + 0.2, DOWN[1])],
    }


class EstimatorDefinitionTest(unittest.TestCase):
    """The estimator definition on hand-computed curves."""

    def test_half_height_crossings_by_hand(self):
        # y over sigma = 10^0..10^4 (given shuffled, with sigma = 0 that must be ignored):
        # k* = 2, P = 4, L = R = 0, h = 2; onset between x = 1 and 2 at 1 + 1/3, loss between
        # x = 2 and 3 at 2 + 2/3.
        sigma = np.array([100.0, 0.0, 1.0, 10000.0, 10.0, 1000.0])
        y = np.array([4.0, 99.0, 0.0, 0.0, 1.0, 1.0])
        c1, c2 = transitions.locate(sigma, y)
        self.assertAlmostEqual(np.log10(c1), 1 + 1 / 3, places=12)
        self.assertAlmostEqual(np.log10(c2), 2 + 2 / 3, places=12)

    def test_threshold_and_missing_crossings(self):
        sigma = np.logspace(0, 3, 4)
        # a rise of 15 % of the maximum only: no sigma_c1; monotone: no sigma_c2
        self.assertTrue(np.isnan(transitions.locate(sigma, [0.85, 0.9, 0.95, 1.0])[0]))
        self.assertTrue(np.isnan(transitions.locate(sigma, [0.1, 0.5, 0.9, 1.0])[1]))
        # the first maximum is k*; the crossing level is met exactly at a grid point
        c1, c2 = transitions.locate(sigma, [0.0, 0.5, 1.0, 1.0])
        self.assertAlmostEqual(c1, 10.0, places=12)
        self.assertTrue(np.isnan(c2))

    def test_duplicated_sigma_kept(self):
        # sigma 10 twice: sorted stably, so the pair (10, 10) is a zero-width step
        sigma = np.array([1.0, 10.0, 10.0, 100.0])
        c1, _ = transitions.locate(sigma, [0.0, 0.2, 0.8, 1.0])
        self.assertAlmostEqual(c1, 10.0, places=12)


    def test_couplings_without_valid_realization_are_left_out(self):
        # NaN means (every realization failed) drop out: the curve is 0, 4, 0 over x = 0, 2, 4
        sigma = np.logspace(0, 4, 5)
        c1, c2 = transitions.locate(sigma, [0.0, np.nan, 4.0, np.nan, 0.0])
        self.assertAlmostEqual(np.log10(c1), 1.0, places=12)
        self.assertAlmostEqual(np.log10(c2), 3.0, places=12)


class SyntheticRecoveryTest(unittest.TestCase):
    """Estimators and bootstrap intervals recover prescribed crossings from noisy realizations."""

    DRAWS = 20
    MIN_COVERAGE = 16          # of 20 draws (80 %); a 95 % interval misses 1 in 20 on average
    TOLERANCE = 0.1            # decades

    def test_sigma_c_and_hysteresis_recovered_within_bootstrap_intervals(self):
        truth = {"sigma_c1": 10 ** X1, "sigma_c2": 10 ** X2}
        widths = {"width_c1": UP[0] - DOWN[0], "width_c2": UP[1] - DOWN[1]}
        covered = {name: 0 for name in (*truth, *widths)}
        with tempfile.TemporaryDirectory() as tmp:
            for draw in range(self.DRAWS):
                path = write_synthetic(Path(tmp) / f"syn{draw}.h5", synthetic_curves(), SYN_SIGMA,
                                       seed=draw, failed=[("nonadiabatic", 0, 3, 7),
                                                          ("adiabatic_up", 0, 5, 12)])
                groups = reader.open_sweep(path)
                self.assertTrue(np.isnan(groups["nonadiabatic"].order_parameter[0, 3, 7]))
                result = transitions.analyze(groups, B=1000, seed=1000 + draw)
                na = result["nonadiabatic"]
                for name, value in truth.items():
                    estimate = float(na[name][0])
                    bounds = na[name + "_ci"]
                    self.assertEqual(bounds.dims, ("depth", "bound"))
                    low, high = (float(bounds.sel(bound=b)[0]) for b in ("low", "high"))
                    self.assertLess(abs(np.log10(estimate / value)), self.TOLERANCE,
                                    f"draw {draw}: {name} {estimate} vs {value}")
                    self.assertLessEqual(low, estimate)
                    self.assertLessEqual(estimate, high)
                    covered[name] += low <= value <= high
                h = result["hysteresis"]
                for name, value in widths.items():
                    estimate = float(h[name][0])
                    self.assertLess(abs(estimate - value), self.TOLERANCE,
                                    f"draw {draw}: {name} {estimate} vs {value}")
                    low, high = (float(h[name + "_ci"].sel(bound=b)[0]) for b in ("low", "high"))
                    covered[name] += low <= value <= high
                # the loop area of two bumps is about the area between their edges
                self.assertGreater(float(h.area[0]), 0.0)
        for name, count in covered.items():
            with self.subTest(estimator=name):
                self.assertGreaterEqual(count, self.MIN_COVERAGE,
                                        f"{name}: the truth is in {count}/{self.DRAWS} intervals")
        print(f"\n  bootstrap coverage of the truth over {self.DRAWS} draws: "
              + ", ".join(f"{k} {v}/{self.DRAWS}" for k, v in covered.items()), file=sys.stderr)

    def test_signal_chi_and_failed_points(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_synthetic(Path(tmp) / "s.h5", synthetic_curves(), SYN_SIGMA, runs=5,
                                   units=40, failed=[("nonadiabatic", 1, 2, 4)])
            ds = reader.open_sweep(path)["nonadiabatic"]
            sig = transitions.signal(ds)
            with h5py.File(path) as f:
                op = f["nonadiabatic/order_parameter"][()]
            kept = np.delete(op[1, :, 4], 2)
            self.assertAlmostEqual(float(sig["mean"][1, 4]), kept.mean(), places=14)
            self.assertAlmostEqual(float(sig["se"][1, 4]), kept.std(ddof=1) / 2.0, places=14)
            self.assertAlmostEqual(float(sig["chi"][1, 4]), 40 * kept.var(ddof=1), places=12)
            self.assertEqual(int(sig["n"][1, 4]), 4)


class ReaderTest(unittest.TestCase):

    def test_real_files(self):
        self.assertEqual(reader.file_kind(FILES["theory"]), "theory")
        self.assertEqual(reader.file_kind(FILES["micro"]), "micro")
        self.assertEqual(reader.file_kind(FILES["stationary"]), "stationary")
        groups = reader.open_sweep(FILES["theory"])
        self.assertEqual(list(groups), ["nonadiabatic", "adiabatic_up", "adiabatic_down"])
        ds = groups["adiabatic_down"]
        for coord in ("depth", "run", "sigma", "time", "unit"):
            self.assertIn(coord, ds.coords)
        self.assertEqual(ds.order_parameter.dims, ("depth", "run", "sigma"))
        self.assertEqual(ds.m.dims, ("depth", "run", "sigma", "time"))
        micro = reader.open_sweep(FILES["micro"])["nonadiabatic"]
        self.assertEqual(micro.cross_accuracy.dims, ("depth", "run", "sigma", "unit", "unit_j"))
        root = reader.open_root(FILES["micro"])
        self.assertEqual(root.all_data_accuracy.dims, ("depth", "run"))
        self.assertEqual(root.disorder.dims, ("depth", "run", "unit"))
        stationary = reader.open_stationary(FILES["stationary"])
        self.assertEqual(set(stationary), {"ordered", "symmetric", "history", "folds", "critical"})
        self.assertEqual(stationary["critical"].sigma_c1.dims, ("depth",))
        with self.assertRaises(ValueError):
            reader.open_sweep(FILES["stationary"])
        with self.assertRaises(ValueError):
            reader.open_stationary(FILES["theory"])

    def test_horizon_dimension(self):
        ds = reader.open_sweep(FILES["horizons"])["nonadiabatic"]
        np.testing.assert_array_equal(ds.horizon.values, HORIZONS)
        for name in ("order_parameter_horizon", "loss_horizon"):
            self.assertEqual(ds[name].dims, ("depth", "run", "sigma", "horizon"))
        self.assertEqual(ds.relaxation_time.dims, ("depth", "run", "sigma"))
        # the last horizon is the end of the run
        np.testing.assert_array_equal(ds.order_parameter_horizon.isel(horizon=-1).values,
                                      ds.order_parameter.values)
        limit = reader.open_sweep(FILES["limit"])["nonadiabatic"]
        np.testing.assert_array_equal(limit.horizon.values, LIMIT_HORIZONS)
        self.assertEqual(limit.order_parameter_horizon.dims, ("depth", "run", "sigma", "horizon"))
        self.assertEqual(limit.sizes["run"], 1)
        # without --horizons: the end alone
        quick = reader.open_sweep(FILES["theory"])["adiabatic_up"]
        self.assertEqual(quick.order_parameter_horizon.sizes["horizon"], 1)

    def test_horizon_axis_of_a_file_without_dimension_scales(self):
        # A hand-made file without dimension scales and as many horizons as time samples: the
        # *_horizon variables get `horizon`, the trace `m` keeps `time`.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plain-horizons.h5"
            with h5py.File(path, "w") as f:
                f.attrs["subcommand"] = "theory"
                g = f.create_group("nonadiabatic")
                g["depth"], g["run"], g["sigma"] = np.arange(2), np.arange(3), np.logspace(-1, 1, 4)
                g["horizon"], g["time"] = [1.0, 2.0, 4.0], [0.0, 2.0, 4.0]
                g["status"] = np.zeros((2, 3, 4), dtype=np.int8)
                g["order_parameter_horizon"] = np.ones((2, 3, 4, 3))
                g["m"] = np.ones((2, 3, 4, 3))
            ds = reader.open_sweep(path)["nonadiabatic"]
            self.assertEqual(ds.order_parameter_horizon.dims, ("depth", "run", "sigma", "horizon"))
            self.assertEqual(ds.m.dims, ("depth", "run", "sigma", "time"))
            np.testing.assert_array_equal(ds.horizon.values, [1.0, 2.0, 4.0])

    def test_non_cdl_files_raise_value_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "plain.h5"
            with h5py.File(plain, "w") as f:
                f["x"] = np.arange(3)
            text = Path(tmp) / "text.h5"
            text.write_text("not HDF5\n")
            for path in (plain, text):
                for function in (reader.file_kind, reader.open_sweep, reader.open_root,
                                 reader.open_stationary):
                    with self.subTest(file=path.name, function=function.__name__):
                        with self.assertRaises(ValueError):
                            function(path)


class PlotCommandTest(unittest.TestCase):

    @staticmethod
    def plot(*args):
        return subprocess.Popen([PYTHON, "-m", "cdl_analysis.plot", *map(str, args)],
                                cwd=REPO_ROOT, env=child_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_every_kind_writes_a_png_of_the_documented_size(self):
        """`order` and `accuracy` through `python3 -m cdl_analysis.plot`, the others through the
        same main() in this process, meanwhile (an interpreter start costs a second or two)."""
        import contextlib
        import io
        from cdl_analysis import figures
        with tempfile.TemporaryDirectory() as tmp:
            cases = [  # kind, file, extra arguments, expected (width, height)
                ("order", FILES["theory"], [], (800, 500)),
                ("accuracy", FILES["micro"], [], (800, 500)),
                ("loss", FILES["theory"], [], (800, 500)),
                ("hysteresis", FILES["theory"], [], (800, 500)),
                ("phase", FILES["theory"], ["--theory", FILES["stationary"]], (800, 500)),
                ("cross", FILES["micro"], ["--sigma", "0", "0.1", "10"], (800, 500)),
                ("phase", FILES["micro"], [], (800, 500)),
                ("order", FILES["micro"], [], (800, 500)),
                ("loss", FILES["micro"], [], (800, 500)),
                # cross: 2.7 inches wider per panel beyond three
                ("cross", FILES["micro"], ["--sigma", "0", "0.01", "0.1", "1", "10"], (1340, 500)),
                ("horizons", FILES["horizons"], [], (800, 500)),
                ("horizons", FILES["horizons"], ["--theory", FILES["stationary"],
                                                 "--limit", FILES["limit"]], (800, 500)),
                # one horizon (the end), another protocol, micro's sigma = 0
                ("horizons", FILES["theory"], ["--protocol", "adiabatic_down"], (800, 500)),
                ("horizons", FILES["micro"], [], (800, 500)),
                ("phase-depth", FILES["stationary"], [], (800, 500)),
                # the sweeps after --out: the positional files may follow the options
                ("phase-depth", FILES["stationary"], [FILES["horizons"], FILES["theory"]],
                 (800, 500)),
            ]
            outputs = [Path(tmp) / f"{i}-{kind}.png" for i, (kind, *_) in enumerate(cases)]
            results = {}
            running = [(i, self.plot(kind, path, "--out", outputs[i], *extra))
                       for i, (kind, path, extra, _) in enumerate(cases[:2])]
            for i, (kind, path, extra, _) in enumerate(cases[2:], start=2):
                stdout, stderr = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    code = figures.main([kind, str(path), "--out", str(outputs[i]),
                                         *map(str, extra)])
                results[i] = (code, stdout.getvalue(), stderr.getvalue())
            for i, process in running:
                stdout, stderr = process.communicate(timeout=120)
                results[i] = (process.returncode, stdout, stderr)
            for i, (kind, path, extra, size) in enumerate(cases):
                code, stdout, stderr = results[i]
                with self.subTest(kind=kind, file=Path(path).name, extra=extra):
                    self.assertEqual(code, 0, stderr)
                    self.assertEqual(stdout.strip(), str(outputs[i]))
                    self.assertGreater(outputs[i].stat().st_size, 10_000)
                    self.assertEqual(png_size(outputs[i]), size)

    def test_bad_use_exits_2_with_one_line(self):
        """Two cases through `python3 -m cdl_analysis.plot`, the rest through the same main()
        in this process (an interpreter start costs a second or two of imports)."""
        import contextlib
        import io
        from cdl_analysis import figures
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "plain.h5"
            with h5py.File(plain, "w") as f:
                f["x"] = np.arange(3)
            cases = [
                ("unknown kind", ["bogus", FILES["theory"]]),
                ("cross on theory", ["cross", FILES["theory"]]),
                ("non-cdl HDF5", ["order", plain]),
                ("not HDF5", ["order", Path(__file__)]),
                ("missing file", ["order", Path(tmp) / "missing.h5"]),
                ("accuracy on theory", ["accuracy", FILES["theory"]]),
                ("hysteresis without adiabatic sweeps", ["hysteresis", FILES["micro"]]),
                ("stationary as sweep", ["order", FILES["stationary"]]),
                ("--theory not stationary", ["phase", FILES["theory"], "--theory", FILES["micro"]]),
                ("--sigma with another kind", ["order", FILES["theory"], "--sigma", "1"]),
                ("stationary as horizons sweep", ["horizons", FILES["stationary"]]),
                ("missing horizons sweep", ["horizons", Path(tmp) / "missing.h5"]),
                ("horizons --theory not stationary",
                 ["horizons", FILES["horizons"], "--theory", FILES["theory"]]),
                ("horizons --limit finite N", ["horizons", FILES["horizons"], "--limit",
                                               FILES["theory"]]),
                ("horizons --limit stationary", ["horizons", FILES["horizons"], "--limit",
                                                 FILES["stationary"]]),
                ("horizons --limit missing", ["horizons", FILES["horizons"], "--limit",
                                              Path(tmp) / "missing.h5"]),
                ("--limit with another kind", ["order", FILES["theory"], "--limit",
                                               FILES["limit"]]),
                ("two files for one sweep", ["order", FILES["theory"], FILES["horizons"]]),
                ("sweep as phase-depth stationary", ["phase-depth", FILES["horizons"]]),
                ("stationary as phase-depth sweep", ["phase-depth", FILES["stationary"],
                                                     FILES["stationary"]]),
                ("missing phase-depth sweep", ["phase-depth", FILES["stationary"],
                                               FILES["horizons"], Path(tmp) / "missing.h5"]),
                ("missing stationary", ["phase-depth", Path(tmp) / "missing.h5"]),
                ("phase-depth protocol absent", ["phase-depth", FILES["stationary"],
                                                 FILES["horizons"], "--protocol", "adiabatic_up"]),
            ]
            results = []
            running = [(name, self.plot(*args, "--out", Path(tmp) / f"{i}.png"))
                       for i, (name, args) in enumerate(cases[:2])]
            for name, process in running:
                stdout, stderr = process.communicate(timeout=120)
                results.append((name, process.returncode, stdout, stderr))
            for i, (name, args) in enumerate(cases[2:], start=2):
                stdout, stderr = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    try:
                        code = figures.main([*map(str, args), "--out", str(Path(tmp) / f"{i}.png")])
                    except SystemExit as exit:
                        code = exit.code
                results.append((name, code, stdout.getvalue(), stderr.getvalue()))
            for i, (name, code, stdout, stderr) in enumerate(results):
                with self.subTest(case=name):
                    assert_bad_use(self, code, stdout, stderr, Path(tmp) / f"{i}.png")


class HorizonFiguresTest(unittest.TestCase):
    """What `horizons` and `phase-depth` draw, read off the matplotlib Figures (the lines carry
    gids: 'horizon:h', 'limit:h', 'window:SWEEP:DEPTH:h', ...)."""

    @staticmethod
    def lines(ax, prefix):
        return [line for line in ax.get_lines() if (line.get_gid() or "").startswith(prefix)]

    @staticmethod
    def horizon_of(line):
        return float(line.get_gid().rsplit(":", 1)[1])

    @staticmethod
    def panels(fig):
        return [ax for ax in fig.axes if (ax.get_gid() or "").startswith("depth ")]

    def test_horizons_one_curve_per_horizon_per_panel(self):
        from cdl_analysis import figures
        fig = figures.plot_horizons(FILES["horizons"], theory=FILES["stationary"],
                                    limit=FILES["limit"])
        depths, sigma, horizons, mean = done_mean_horizon(FILES["horizons"])
        limit_depths, limit_sigma, limit_horizons, limit_mean = done_mean_horizon(FILES["limit"])
        np.testing.assert_array_equal(horizons, HORIZONS)
        order = np.argsort(sigma, kind="stable")
        limit_order = np.argsort(limit_sigma, kind="stable")
        with h5py.File(FILES["stationary"], "r") as f:
            branches = {name: {key: f[name][key][()] for key in ("depth", "sigma", "m", "stable")}
                        for name in ("ordered", "symmetric")}
            folds = {key: f["folds"][key][()] for key in ("depth", "sigma", "m")}
        panels = self.panels(fig)
        self.assertEqual([ax.get_gid() for ax in panels], [f"depth {d}" for d in depths])
        for i, (ax, depth) in enumerate(zip(panels, depths)):
            with self.subTest(depth=int(depth)):
                curves = self.lines(ax, "horizon:")
                self.assertEqual([self.horizon_of(c) for c in curves], list(HORIZONS))
                for k, curve in enumerate(curves):
                    np.testing.assert_array_equal(curve.get_xdata(), sigma[order])
                    np.testing.assert_allclose(curve.get_ydata(), mean[i, order, k], rtol=1e-12)
                # N -> infinity: its depths only, at the shared horizons, dashed, same colour
                limit = self.lines(ax, "limit:")
                if depth in limit_depths:
                    j = list(limit_depths).index(depth)
                    self.assertEqual([self.horizon_of(line) for line in limit],
                                     list(LIMIT_HORIZONS))
                    for line in limit:
                        h = self.horizon_of(line)
                        q, k = list(limit_horizons).index(h), HORIZONS.index(h)
                        self.assertEqual(line.get_linestyle(), "--")
                        self.assertEqual(line.get_color(), curves[k].get_color())
                        np.testing.assert_array_equal(line.get_xdata(), limit_sigma[limit_order])
                        np.testing.assert_allclose(line.get_ydata(), limit_mean[j, limit_order, q],
                                                   rtol=1e-12)
                else:
                    self.assertEqual(limit, [])
                # stationary branches: every point of the depth's branch, stable parts solid and
                # unstable ones dashed (each part runs on to the next one's first point)
                for name, branch in branches.items():
                    at = branch["depth"] == depth
                    parts = self.lines(ax, name + ":")
                    self.assertEqual(sum(len(p.get_xdata()) for p in parts),
                                     at.sum() + max(len(parts) - 1, 0))
                    for part in parts:
                        stable = part.get_gid() == f"{name}:stable"
                        self.assertEqual(part.get_linestyle(), "-" if stable else "--")
                        first = np.flatnonzero(at & (branch["sigma"] == part.get_xdata()[0]))
                        self.assertEqual(bool(branch["stable"][first[0]]), stable)
                marks = self.lines(ax, "fold")
                at = folds["depth"] == depth
                if at.any():
                    np.testing.assert_array_equal(marks[0].get_xdata(), folds["sigma"][at])
                    np.testing.assert_array_equal(marks[0].get_ydata(), folds["m"][at])
                else:
                    self.assertEqual(marks, [])
        # the test is meaningful: depth 2 has folds and an unstable part of the ordered branch
        self.assertTrue((folds["depth"] == 2).any())
        self.assertTrue(self.lines(panels[2], "ordered:unstable"))

    def test_horizons_limit_without_shared_horizon_draws_its_end(self):
        from cdl_analysis import figures
        limit = reader.open_sweep(FILES["limit"], traces=False)
        # horizons 30 and 60: none of the sweep's
        moved = {p: ds.assign_coords(horizon=ds.horizon.values * 3) for p, ds in limit.items()}
        fig = figures.plot_horizons(FILES["horizons"], limit=moved)
        with h5py.File(FILES["limit"], "r") as f:
            g = f["nonadiabatic"]
            end = np.where(g["status"][()] == 0, g["order_parameter"][()], np.nan).mean(axis=1)
            order = np.argsort(g["sigma"][()], kind="stable")
            limit_depths = list(g["depth"][()])
        for ax in self.panels(fig):
            depth = int(ax.get_gid().split()[1])
            lines = self.lines(ax, "limit:")
            with self.subTest(depth=depth):
                if depth in limit_depths:
                    self.assertEqual([line.get_gid() for line in lines], ["limit:end"])
                    np.testing.assert_allclose(lines[0].get_ydata(),
                                               end[limit_depths.index(depth), order], rtol=1e-12)
                else:
                    self.assertEqual(lines, [])

    def test_phase_depth_bars_are_the_located_windows(self):
        from cdl_analysis import figures
        fig = figures.plot_phase_depth(FILES["stationary"], [FILES["horizons"]])
        ax = fig.axes[0]
        depths, sigma, horizons, mean = done_mean_horizon(FILES["horizons"])
        expected = {}
        for i, depth in enumerate(depths):
            for k, h in enumerate(horizons):
                c1, c2 = transitions.locate(sigma, mean[i, :, k])
                if np.isfinite(c1) and np.isfinite(c2):
                    expected[f"window:0:{depth}:{h:g}"] = (depth, c1, c2)
        self.assertGreaterEqual(len(expected), 4, "the sweep should have windows at D = 1, 2")
        bars = {line.get_gid(): line for line in self.lines(ax, "window:")}
        self.assertEqual(set(bars), set(expected))
        offsets, colours = {}, {}
        for gid, (depth, c1, c2) in expected.items():
            x, y = bars[gid].get_xdata(), bars[gid].get_ydata()
            self.assertEqual(x[0], x[1])
            self.assertLess(abs(x[0] - depth), 0.5)
            np.testing.assert_allclose(y, [c1, c2], rtol=1e-12)
            h = self.horizon_of(bars[gid])
            offsets.setdefault(h, set()).add(round(float(x[0] - depth), 9))
            colours.setdefault(h, set()).add(tuple(bars[gid].get_color()))
        # one offset and one colour per horizon, each horizon its own
        self.assertTrue(all(len(v) == 1 for v in offsets.values()), offsets)
        self.assertEqual(len(set.union(*offsets.values())), len(offsets))
        self.assertTrue(all(len(v) == 1 for v in colours.values()), colours)
        self.assertEqual(len(set.union(*colours.values())), len(colours))
        with h5py.File(FILES["stationary"], "r") as f:
            for name in ("sigma_c1", "sigma_c2", "sigma_coexistence"):
                line = self.lines(ax, f"critical:{name}")
                self.assertEqual(len(line), 1, name)
                np.testing.assert_array_equal(line[0].get_xdata(), f["critical/depth"][()])
                np.testing.assert_array_equal(line[0].get_ydata(), f["critical"][name][()])
            folds = self.lines(ax, "folds")
            np.testing.assert_array_equal(folds[0].get_xdata(), f["folds/depth"][()])
            np.testing.assert_array_equal(folds[0].get_ydata(), f["folds/sigma"][()])


class SchemeFiguresTest(unittest.TestCase):
    """`schemes` and `communication`: several tiny micro sweeps, one per --scheme (made in
    setUpClass, in parallel, about a second). The gossip sweep has a depth the others lack, so
    the panels are the common depths 1 and 2; the diffusion one gets a failed point (status 2,
    absurd values) that the figures must leave out."""

    SCHEMES = ("diffusion", "fedavg:5:1", "gossip")   # as given, as written in `config`
    DEPTHS = {"diffusion": "1,2", "fedavg:5:1": "1,2", "gossip": "0,1,2"}
    COMMON_DEPTHS = [1, 2]
    SWEEP = ("--units", 10, "--runs", 3, "--sigma", "0,log:-2:1:4", "--transient-steps", 100,
             "--measure-steps", 100, "--record-every", 100)
    FAILED = (0, 1, 3)   # (depth index, run, sigma index) of the diffusion file

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdl-schemes-test-")
        tmp = Path(cls.tmp.name)
        cls.files = {scheme: tmp / f"{scheme.split(':')[0]}.h5" for scheme in cls.SCHEMES}
        cls.regression = tmp / "teacher.h5"
        runs = [(scheme, start_cdl("micro", [*map(str, cls.SWEEP), "--depths", cls.DEPTHS[scheme],
                                             "--scheme", scheme, "--output", str(path), "--quiet"],
                                   REPO_ROOT))
                for scheme, path in cls.files.items()]
        runs.append(("teacher", start_cdl("micro", [
            "--task", "teacher", "--units", "4", "--runs", "1", "--depths", "1", "--sigma", "0,1",
            "--transient-steps", "10", "--measure-steps", "10", "--record-every", "10",
            "--output", str(cls.regression), "--quiet"], REPO_ROOT)))
        for name, process in runs:
            _, stderr = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"cdl micro ({name}) failed ({process.returncode}):\n{stderr}")
        with h5py.File(cls.files["diffusion"], "r+") as f:
            g = f["nonadiabatic"]
            g["status"][cls.FAILED] = 2
            g["accuracy"][cls.FAILED] = 0.999
            g["communication"][cls.FAILED] = 1e9

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def done_means(path, protocol="nonadiabatic"):
        """(depth, sigma, {accuracy, communication: mean [depth, sigma]}, se of accuracy)
        straight from the file: over the realizations with status 0."""
        with h5py.File(path, "r") as f:
            g = f[protocol]
            done = g["status"][()] == 0
            means = {name: np.nanmean(np.where(done, g[name][()], np.nan), axis=1)
                     for name in ("accuracy", "communication", "accuracy_mean_model")}
            accuracy = np.where(done, g["accuracy"][()], np.nan)
            se = np.nanstd(accuracy, axis=1, ddof=1) / np.sqrt(done.sum(axis=1))
            return g["depth"][()], g["sigma"][()], means, se

    @staticmethod
    def panels(fig):
        return [ax for ax in fig.axes if (ax.get_gid() or "").startswith("depth ")]

    @staticmethod
    def curves(ax):
        return [line for line in ax.get_lines() if (line.get_gid() or "").startswith("scheme:")]

    @staticmethod
    def run_main(args):
        """figures.main in this process: (exit code, stdout, stderr)."""
        import contextlib
        import io
        from cdl_analysis import figures
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = figures.main(list(map(str, args)))
            except SystemExit as exit:
                code = exit.code
        return code, stdout.getvalue(), stderr.getvalue()

    def test_both_kinds_write_pngs_of_the_documented_size(self):
        """`schemes` through `python3 -m cdl_analysis.plot`, the rest through main() here
        meanwhile; --out before or after the files."""
        files = list(self.files.values())
        with tempfile.TemporaryDirectory() as tmp:
            out = {name: Path(tmp) / f"{name}.png"
                   for name in ("schemes", "communication", "two", "one")}
            process = subprocess.Popen(
                [PYTHON, "-m", "cdl_analysis.plot", "schemes", *map(str, files), "--out",
                 str(out["schemes"])], cwd=REPO_ROOT, env=child_env(), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            results = {
                "communication": self.run_main(["communication", "--out", out["communication"],
                                                *files]),
                "two": self.run_main(["schemes", files[0], "--out", out["two"], files[2]]),
                "one": self.run_main(["communication", files[2], "--out", out["one"]]),
            }
            stdout, stderr = process.communicate(timeout=120)
            results["schemes"] = (process.returncode, stdout, stderr)
            for name, (code, stdout, stderr) in results.items():
                with self.subTest(case=name):
                    self.assertEqual(code, 0, stderr)
                    self.assertEqual(stdout.strip(), str(out[name]))
                    self.assertGreater(out[name].stat().st_size, 10_000)
                    self.assertEqual(png_size(out[name]), (800, 500))

    def test_one_curve_per_file_per_panel_with_the_done_means(self):
        from cdl_analysis import figures
        files = [self.files[scheme] for scheme in self.SCHEMES]
        expected = {scheme: self.done_means(self.files[scheme]) for scheme in self.SCHEMES}
        # the failed point is left out: its absurd values would show in the means
        depth, sigma, means, _ = expected["diffusion"]
        d, r, k = self.FAILED
        self.assertLess(means["accuracy"][d, k], 0.99)
        self.assertLess(means["communication"][d, k], 1e8)
        for kind, plot in (("schemes", figures.plot_schemes),
                           ("communication", figures.plot_communication)):
            fig = plot(files)
            panels = self.panels(fig)
            self.assertEqual([ax.get_gid() for ax in panels],
                             [f"depth {d}" for d in self.COMMON_DEPTHS], kind)
            for ax, panel_depth in zip(panels, self.COMMON_DEPTHS):
                curves = self.curves(ax)
                self.assertEqual([c.get_gid() for c in curves],
                                 [f"scheme:{k}" for k in range(len(files))])
                self.assertEqual([c.get_label() for c in curves], list(self.SCHEMES))
                for index, (scheme, curve) in enumerate(zip(self.SCHEMES, curves)):
                    depth, sigma, means, se = expected[scheme]
                    i = list(depth).index(panel_depth)
                    order = np.argsort(sigma, kind="stable")   # sigma = 0 included
                    with self.subTest(kind=kind, depth=panel_depth, scheme=scheme):
                        if kind == "schemes":
                            np.testing.assert_array_equal(curve.get_xdata(), sigma[order])
                            # the se band: mean - se and mean + se at every sigma
                            band, = [c for c in ax.collections if c.get_gid() == f"se:{index}"]
                            vertices = np.concatenate([p.vertices for p in band.get_paths()])
                            for x, low, high in zip(sigma[order],
                                                    (means["accuracy"] - se)[i, order],
                                                    (means["accuracy"] + se)[i, order]):
                                at = vertices[vertices[:, 0] == x, 1]
                                np.testing.assert_allclose([at.min(), at.max()], [low, high],
                                                           rtol=1e-9)
                            # dashed: the mean model's accuracy, straight from the file
                            mean_model, = [c for c in ax.get_lines()
                                           if c.get_gid() == f"mean-model:{index}"]
                            self.assertEqual(mean_model.get_linestyle(), "--")
                            np.testing.assert_allclose(mean_model.get_ydata(),
                                                       means["accuracy_mean_model"][i, order],
                                                       rtol=1e-12)
                        else:
                            np.testing.assert_allclose(curve.get_xdata(),
                                                       means["communication"][i, order],
                                                       rtol=1e-12)
                        np.testing.assert_allclose(curve.get_ydata(), means["accuracy"][i, order],
                                                   rtol=1e-12)
        # the legend names the schemes; a file without a scheme line is named by its file name,
        # and a repeated scheme gets the file name in brackets
        import shutil
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "copy.h5"
            bare = Path(tmp) / "bare.h5"
            shutil.copy(self.files["diffusion"], copy)
            shutil.copy(self.files["gossip"], bare)
            with h5py.File(bare, "r+") as f:
                config = f.attrs["config"]
                config = config.decode() if isinstance(config, bytes) else config
                f.attrs["config"] = "\n".join(line for line in config.splitlines()
                                              if not line.startswith("scheme"))
            fig = figures.plot_schemes([self.files["diffusion"], copy, bare])
            self.assertEqual([c.get_label() for c in self.curves(self.panels(fig)[0])],
                             ["diffusion (diffusion.h5)", "diffusion (copy.h5)", "bare.h5"])
        # no depth in common
        gossip = reader.open_sweep(self.files["gossip"], traces=False)
        only_zero = {p: ds.isel(depth=[0]) for p, ds in gossip.items()}
        with self.assertRaisesRegex(figures.PlotError, "no depth common"):
            figures.plot_communication([self.files["diffusion"], only_zero])

    def test_bad_input_exits_2_with_one_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = Path(tmp) / "missing.h5"
            diffusion = self.files["diffusion"]
            cases = [
                ("schemes: theory file", ["schemes", FILES["theory"]]),
                ("schemes: theory file second", ["schemes", diffusion, FILES["theory"]]),
                ("schemes: stationary file", ["schemes", FILES["stationary"], diffusion]),
                ("schemes: stationary file second", ["schemes", diffusion, FILES["stationary"]]),
                ("schemes: missing file", ["schemes", diffusion, missing]),
                ("schemes: no accuracy", ["schemes", diffusion, self.regression]),
                ("communication: theory file", ["communication", FILES["theory"], diffusion]),
                ("communication: stationary file", ["communication", diffusion,
                                                    FILES["stationary"]]),
                ("communication: missing file", ["communication", missing]),
                ("communication: no accuracy", ["communication", self.regression]),
                ("communication: protocol absent", ["communication", diffusion, "--protocol",
                                                    "adiabatic_up"]),
            ]
            for i, (name, args) in enumerate(cases):
                out = Path(tmp) / f"{i}.png"
                code, stdout, stderr = self.run_main([*args, "--out", out])
                with self.subTest(case=name):
                    assert_bad_use(self, code, stdout, stderr, out)


class WorkflowNotebookTest(unittest.TestCase):
    """Named to sort last: the notebooks run in the background from setUpModule on."""

    def executed_outputs(self, name):
        """The outputs of the executed notebook NAME, after checking that the committed one has
        cleared outputs and that every code cell ran without an error."""
        import nbformat
        committed = nbformat.read(NOTEBOOKS[name], as_version=4)
        for cell in committed.cells:
            if cell.cell_type == "code":
                self.assertEqual(cell.get("outputs"), [],
                                 "commit the notebook with cleared outputs")
                self.assertIsNone(cell.get("execution_count"))
        run = NOTEBOOK_RUNS[name]
        try:
            run["process"].wait(timeout=300)
        finally:
            run["log"].flush()
        log = run["log_path"].read_text()
        self.assertEqual(run["process"].returncode, 0, f"nbconvert failed:\n{log[-3000:]}")
        executed = nbformat.read(run["out"], as_version=4)
        code = [c for c in executed.cells if c.cell_type == "code"]
        self.assertTrue(all(c.execution_count for c in code), "a code cell did not run")
        outputs = [o for c in code for o in c.outputs]
        self.assertFalse([o for o in outputs if o.output_type == "error"])
        return outputs

    @staticmethod
    def text_and_images(outputs):
        text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        return text, sum("image/png" in o.get("data", {}) for o in outputs)

    def test_notebook_runs_to_the_end(self):
        text, images = self.text_and_images(self.executed_outputs("quick_sweep"))
        self.assertIn("sigma_c1", text)
        self.assertIn("hysteresis", text)
        self.assertGreaterEqual(images, 4)

    def test_horizons_notebook_runs_to_the_end(self):
        text, images = self.text_and_images(self.executed_outputs("horizons"))
        self.assertIn("horizons: [ 5. 10. 25. 50.]", text)
        self.assertIn("ordered window", text)
        self.assertEqual(images, 2)   # the horizons figure and the (depth, sigma) plane


class AnalyzeAgreementTest(unittest.TestCase):
    RTOL = 1e-9

    def assert_close(self, actual, expected, what):
        actual = np.asarray(actual, dtype=float)
        expected = np.asarray(expected, dtype=float)
        self.assertEqual(actual.shape, expected.shape, what)
        self.assertTrue(np.array_equal(np.isnan(actual), np.isnan(expected)),
                        f"{what}: NaN at different places\ncdl analyze {actual}\npython {expected}")
        ok = ~np.isnan(expected)
        np.testing.assert_allclose(actual[ok], expected[ok], rtol=self.RTOL, atol=0,
                                   err_msg=what)

    def test_cdl_analyze_agrees_with_python(self):
        help_run = subprocess.run([str(CDL), "analyze", "--help"], capture_output=True, text=True,
                                  timeout=60)
        self.assertEqual(help_run.returncode, 0,
                         f"cdl analyze --help: exit {help_run.returncode}: "
                         f"{help_run.stderr.strip() or help_run.stdout.strip()}")
        with tempfile.TemporaryDirectory() as tmp:
            # the two real sweeps, and a hand-made file with what they lack: sigma = 0, a
            # duplicated and unsorted grid, failed points, and a coupling where every
            # realization failed (NaN in the mean)
            edge = write_synthetic(Path(tmp) / "edge.h5", synthetic_curves(), SYN_SIGMA, seed=7,
                                   failed=[("nonadiabatic", 0, 3, 7), ("adiabatic_up", 0, 5, 12),
                                           ("adiabatic_down", 1, 0, 30)]
                                   + [("nonadiabatic", 1, r, 9) for r in range(30)]
                                   + [("nonadiabatic", 0, r, 36) for r in range(30)]
                                   + [("adiabatic_up", 0, r, 25) for r in range(30)])
            for kind, path in (("theory", FILES["theory"]), ("micro", FILES["micro"]),
                               ("synthetic", edge)):
                out = Path(tmp) / f"{kind}-analysis.h5"
                run_cdl_or_raise("analyze", path, "--output", out, "--quiet")
                python = transitions.analyze(path, B=0)
                # A few resamples: the intervals' names and shapes (their values use other
                # random numbers than cdl analyze's).
                intervals = transitions.analyze(path, B=10)
                with h5py.File(out, "r") as f:
                    self.assertIn("analysis", f)
                    a = f["analysis"]
                    for protocol, ds in python.items():
                        if protocol == "hysteresis":
                            continue
                        with self.subTest(file=kind, protocol=protocol):
                            self.assertIn(protocol, a)
                            observable = a[protocol].attrs.get("observable")
                            if isinstance(observable, bytes):
                                observable = observable.decode()
                            self.assertEqual(observable, ds.attrs["observable"])
                            for name in ("mean", "se", "chi", "sigma_c1", "sigma_c2"):
                                self.assert_close(a[protocol][name][()], ds[name].values,
                                                  f"{kind} {protocol}/{name}")
                            for name in ("sigma_c1_ci", "sigma_c2_ci"):
                                self.assertEqual(a[protocol][name].shape,
                                                 intervals[protocol][name].shape,
                                                 f"{kind} {protocol}/{name}")
                    self.assertEqual("hysteresis" in a, "hysteresis" in python,
                                     f"{kind}: /analysis/hysteresis present in one only")
                    if "hysteresis" in python:
                        h = python["hysteresis"]
                        g = a["hysteresis"]
                        if "depth" in g:
                            self.assertEqual(list(g["depth"][()]), list(h.depth.values))
                        for name in ("width_c1", "width_c2", "area"):
                            with self.subTest(file=kind, hysteresis=name):
                                self.assert_close(g[name][()], h[name].values,
                                                  f"{kind} hysteresis/{name}")

if __name__ == "__main__":
    unittest.main()
