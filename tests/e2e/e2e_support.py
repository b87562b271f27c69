"""Helpers shared by the end-to-end tests (not a test file itself): where the `cdl` executable
is and how to run it, the status flag table, reading HDF5 files, and the checks the command-line
tests share (`CdlTestCase`).

The test files import it by name, so run them the way CTest does, with tests/e2e as the start
directory of the discovery (it is then on sys.path):

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_theory_cli.py
"""

import os
import re
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
# `CDL_BIN` names the executable (default: build/cdl under the repository root).
CDL = Path(os.environ.get("CDL_BIN") or REPO_ROOT / "build" / "cdl").resolve()

# The status flag table of src/sweep/status.hpp (PointStatus, point_status_names): a point's
# status is the index of its name here, the `flag_meanings` of every status dataset.
STATUS_NAMES = ("done", "not_run", "diverged", "step_underflow", "step_budget", "chain_broken",
                "not_converged")
(STATUS_DONE, STATUS_NOT_RUN, STATUS_DIVERGED, STATUS_STEP_UNDERFLOW, STATUS_STEP_BUDGET,
 STATUS_CHAIN_BROKEN, STATUS_NOT_CONVERGED) = range(len(STATUS_NAMES))

# Dimension-scale bookkeeping holds object references, which differ between files.
REFERENCE_ATTRIBUTES = {"DIMENSION_LIST", "REFERENCE_LIST"}


# ----------------------------------------------------------------------------- running cdl

def require_cdl():
    """For setUpModule: raises when there is no executable at CDL."""
    if not (CDL.is_file() and os.access(CDL, os.X_OK)):
        raise RuntimeError(f"cdl executable not found at {CDL} (set CDL_BIN or build it)")


def clean_env(extra=None):
    """The environment without SLURM's variables (the tests may run inside a job), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(extra or {})
    return env


def run_cdl(subcommand, args, cwd=None, env=None, timeout=120):
    """`cdl SUBCOMMAND ARGS...` in `cwd`, to its end: the CompletedProcess, stdout and stderr as
    text. The environment is clean_env(env)."""
    return subprocess.run([str(CDL), str(subcommand), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=clean_env(env))


def start_cdl(subcommand, args, cwd):
    """`cdl SUBCOMMAND ARGS...` started in `cwd` (stdout discarded, stderr a text pipe)."""
    return subprocess.Popen([str(CDL), subcommand, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=clean_env())


def write_ini(path, text):
    Path(path).write_text(text)
    return str(path)


def contains_token(line, text):
    """`text` occurs in `line` not glued to further word characters or dots."""
    return re.search(r"(?<![\w.])" + re.escape(text) + r"(?![\w.])", line) is not None


# ----------------------------------------------------------------------------- files

def snapshot(directory):
    """Every file and directory under `directory` with its bytes and modification time."""
    state = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            state[os.path.relpath(os.path.join(root, name), directory) + "/"] = None
        for name in files:
            path = os.path.join(root, name)
            state[os.path.relpath(path, directory)] = (Path(path).read_bytes(),
                                                        os.stat(path).st_mtime_ns)
    return state


def datasets(path):
    """{name: array} for every dataset of an HDF5 file, in every group."""
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = obj[()]
        f.visititems(visit)
    return found


def attributes(path, skip_root=("created", "command")):
    """{(object name, attribute name): value} for every group and dataset of an HDF5 file, without
    the root attributes `skip_root` and the dimension-scale references."""
    found = {}
    with h5py.File(path, "r") as f:
        def collect(name, obj):
            for key, value in obj.attrs.items():
                if key in REFERENCE_ATTRIBUTES or (name == "/" and key in skip_root):
                    continue
                found[(name, key)] = value.tolist() if isinstance(value, np.ndarray) else value
        collect("/", f)
        f.visititems(collect)
    return found


def protocol_groups(f):
    """Names of the protocol groups of an open sweep file."""
    return sorted(name for name in f if isinstance(f[name], h5py.Group) and "status" in f[name])


# ----------------------------------------------------------------------------- checks

class CdlTestCase(unittest.TestCase):
    """The checks of the command-line tests (no tests of its own)."""

    maxDiff = None

    def wait_for_file(self, path, process, timeout=30, poll=0.005):
        """Waits until `path` exists or `process` has ended (the test fails after `timeout` s)."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and process.poll() is None:
            self.assertLess(time.monotonic(), deadline, f"{path} did not appear")
            time.sleep(poll)

    def assert_quenched_inputs_contract(self, path, f):
        """The root's quenched inputs are [depth, run, unit] with their coordinates, as xarray
        reads them, and hold the values of the open h5py file `f`."""
        import xarray  # only the tests that read files as xarray need it
        with xarray.open_dataset(path, engine="h5netcdf") as root:
            self.assertEqual(root["disorder"].dims, ("depth", "run", "unit"))
            self.assertEqual(root["initial_state"].dims, ("depth", "run", "unit"))
            for coordinate in ("depth", "run", "unit"):
                self.assertIn(coordinate, root.coords)
            np.testing.assert_array_equal(root["disorder"].values, f["disorder"][()])

    def run_ok(self, subcommand, args, cwd, env=None):
        result = run_cdl(subcommand, args, cwd, env=env)
        self.assertEqual(result.returncode, 0,
                         f"cdl {subcommand} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def most_threads(self, subcommand, args, cwd):
        """Runs `cdl SUBCOMMAND ARGS...` to a successful end and returns the most threads its
        process had at once (polled in /proc), counting a thread only if it is seen on two
        consecutive polls: libgomp ends the threads of a nested team when the region ends, and
        the next region's thread may start a few microseconds before the last one is gone."""
        process = start_cdl(subcommand, args, cwd)
        most = 0
        previous = set()
        while process.poll() is None:
            try:
                current = set(os.listdir(f"/proc/{process.pid}/task"))
            except FileNotFoundError:
                break
            most = max(most, len(current & previous))
            previous = current
            time.sleep(0.002)
        _, stderr = process.communicate()
        self.assertEqual(process.returncode, 0, stderr)
        return most

    def one_line(self, result):
        """The single line of stderr of a refused command (exit 2, nothing on stdout)."""
        self.assertEqual(result.returncode, 2, f"stdout: {result.stdout!r}\nstderr: {result.stderr!r}")
        self.assertEqual(result.stdout, "")
        line = result.stderr[:-1] if result.stderr.endswith("\n") else result.stderr
        self.assertNotIn("\n", line, f"stderr is not one line: {result.stderr!r}")
        self.assertTrue(line.strip(), "stderr is empty")
        return line

    def check_bad_input(self, subcommand, cases_of, with_defaults):
        """Every case (name, args, option, values[, cause]) of `cases_of(tmp)` is rejected as
        assert_rejected says, also when an existing output is to be replaced with --overwrite:
        the bad option must be refused before --overwrite touches it."""
        for overwrite in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                for name, args, option, values, *cause in cases_of(tmp):
                    with self.subTest(case=name, existing_output_with_overwrite=overwrite):
                        out = os.path.join(tmp, "out.h5")
                        existing = None
                        if overwrite:
                            existing = b"precious bytes, not HDF5\n"
                            Path(out).write_bytes(existing)
                            os.utime(out, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
                            args = [*args, "--overwrite"]
                        self.assert_rejected(subcommand, tmp, with_defaults(args), option, values,
                                             out, existing, *cause)
                        if os.path.exists(out):
                            os.remove(out)

    def assert_rejected(self, subcommand, tmp, args, option, values, out, existing=None,
                        cause=None):
        """`cdl SUBCOMMAND ARGS --output OUT` must fail with exit 2 and one stderr line naming
        `option`, one of `values` and (a regular expression) `cause`, print nothing on stdout and
        leave the directory `tmp` exactly as it was: no output, no OUTPUT.part (and an `existing`
        output keeps these bytes)."""
        before = snapshot(tmp)
        result = run_cdl(subcommand, [*args, "--output", out], tmp, timeout=60)
        after = snapshot(tmp)
        line = self.one_line(result)
        self.assertIn(option, line)
        self.assertTrue(any(contains_token(line, v) for v in values),
                        f"{line!r} names none of {values}")
        if cause is not None:
            self.assertRegex(line, cause)
        self.assertFalse(os.path.exists(out + ".part"))
        self.assertEqual(after, before, "the directory changed on bad input")
        if existing is not None:
            self.assertEqual(Path(out).read_bytes(), existing)

    def assert_same_file(self, path, reference, compare_attributes=True):
        """Same datasets (names, dtype, shape, values bit for bit, NaN = NaN) and, unless
        `compare_attributes` is false, attributes (but the root attributes `created` and
        `command`)."""
        a, b = datasets(path), datasets(reference)
        self.assertEqual(sorted(a), sorted(b))
        for name in a:
            with self.subTest(dataset=name):
                self.assertEqual(a[name].dtype, b[name].dtype, name)
                self.assertEqual(a[name].shape, b[name].shape, name)
                equal_nan = a[name].dtype.kind == "f"
                same = a[name] == b[name]
                if equal_nan:
                    same |= np.isnan(a[name]) & np.isnan(b[name])
                where = np.argwhere(~same)[:3].tolist()
                self.assertTrue(np.all(same), f"{name} differs from {reference} at {where}: "
                                f"{[a[name][tuple(w)] for w in where]} instead of "
                                f"{[b[name][tuple(w)] for w in where]}")
        if compare_attributes:
            self.assertEqual(attributes(path), attributes(reference))
