"""End-to-end tests of `cdl stationary`: the command line, exit codes and the HDF5 file."""

import os
import signal
import subprocess
import time
import tempfile
import unittest

import h5py
import numpy as np
import xarray
from e2e_support import CDL, run_cdl

SMALL = ["--sigma", "log:-1:2:40", "--history-nodes", "100", "--quiet"]


class StationaryCliTest(unittest.TestCase):
    def test_bad_input_exits_2_with_one_line_and_creates_nothing(self):
        cases = [
            (["--sigma", "1,0.5,2"], "--sigma", "1,0.5,2"),
            (["--sigma", "0,1,2"], "--sigma", "0,1,2"),
            (["--sigma", "5"], "--sigma", "5"),
            (["--quadrature-order", "1"], "--quadrature-order", "1"),
            (["--history-nodes", "0"], "--history-nodes", "0"),
            (["--history-nodes", "1000000000"], "--history-nodes", "1000000000"),
            (["--quadrature-order", "100000000"], "--quadrature-order", "100000000"),
            (["--disorder", "file:x.txt"], "--disorder", "file:x.txt"),
            (["--disorder", "normal:0"], "--disorder", "normal:0"),
            (["--init", "bimodal:1:0.5"], "--init", "bimodal:1:0.5"),
            (["--gamma", "nan"], "--gamma", "nan"),
            (["--depths", "-1"], "--depths", "-1"),
            (["--max-arc-step", "-0.1"], "--max-arc-step", "-0.1"),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for args, option, value in cases:
                with self.subTest(args=args):
                    result = run_cdl("stationary", [*args, "--output", "out.h5"], tmp)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    self.assertEqual(result.stdout, "")
                    lines = result.stderr.splitlines()
                    self.assertEqual(len(lines), 1, result.stderr)
                    self.assertIn(option, lines[0])
                    self.assertIn(value, lines[0])
                    self.assertEqual(os.listdir(tmp), [])

    def test_output_naming_a_directory_is_refused_before_any_work(self):
        # "newdir/" used to be computed in full, then fail to rename with exit 1, leaving newdir/.
        with tempfile.TemporaryDirectory() as tmp:
            for output in ("newdir/", "newdir/.", "."):
                with self.subTest(output=output):
                    result = run_cdl("stationary", [*SMALL, "--output", output], tmp)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    lines = result.stderr.splitlines()
                    self.assertEqual(len(lines), 1, result.stderr)
                    self.assertIn("--output", lines[0])
                    self.assertIn(output, lines[0])
                    self.assertEqual(os.listdir(tmp), [])

    def test_output_contract_and_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_cdl("stationary", [*SMALL, "--output", "st.h5"], tmp)
            self.assertEqual(result.returncode, 0, result.stderr)
            rows = [line.split() for line in result.stdout.splitlines()[1:]]
            self.assertEqual([row[0] for row in rows], ["0", "1", "2"])
            path = os.path.join(tmp, "st.h5")
            self.assertEqual(os.listdir(tmp), ["st.h5"])
            with h5py.File(path, "r") as f:
                for name in ("cdl_version", "command", "config", "created"):
                    self.assertIsInstance(f.attrs[name], str)
                for branch in ("ordered", "symmetric", "history"):
                    g = f[branch]
                    n = g["sigma"].shape[0]
                    for name in ("depth", "sigma", "m", "stable", "lyapunov"):
                        self.assertEqual(g[name].shape, (n,), (branch, name))
                    with xarray.open_dataset(path, group=branch, engine="h5netcdf") as ds:
                        self.assertEqual(ds["m"].dims, ("point",))
                # D = 0: every ordered point at m = mean(Delta)/(1 + gamma) = 0.
                depth = f["ordered/depth"][()]
                np.testing.assert_allclose(f["ordered/m"][()][depth == 0], 0, atol=1e-10)
                # The printed table is the file's /critical.
                c1 = f["critical/sigma_c1"][()]
                self.assertTrue(np.isnan(c1[0]))
                self.assertAlmostEqual(float(rows[1][1]), c1[1], delta=1e-3 * c1[1])
                with xarray.open_dataset(path, group="critical", engine="h5netcdf") as ds:
                    np.testing.assert_array_equal(ds["depth"].values, [0, 1, 2])
                # The history branch is traced at every grid coupling.
                self.assertEqual(int(np.sum(f["history/depth"][()] == 2)), 40)

    def test_sigint_and_sigterm_stop_it_with_code_3_and_nothing_written(self):
        # An extreme grid keeps the continuation busy for minutes: a signal must end it at once.
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name), tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "st.h5")
                process = subprocess.Popen([str(CDL), "stationary", "--sigma", "1e-300,1e300",
                                            "--output", out, "--quiet"], cwd=tmp,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
                time.sleep(1.0)
                self.assertIsNone(process.poll(), "the extreme grid finished within a second")
                start = time.monotonic()
                process.send_signal(sig)
                try:
                    stdout, stderr = process.communicate(timeout=30)
                finally:
                    if process.poll() is None:
                        process.kill()
                self.assertLess(time.monotonic() - start, 10)
                self.assertEqual(process.returncode, 3, stderr)
                self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
                self.assertIn("interrupted", stderr)
                self.assertEqual(os.listdir(tmp), [])  # no output, no .part, no lock left

    def test_results_do_not_depend_on_the_thread_count(self):
        with tempfile.TemporaryDirectory() as tmp:
            for threads in ("1", "2"):
                self.assertEqual(run_cdl("stationary", [*SMALL, "--threads", threads, "--output",
                                                        f"t{threads}.h5"], tmp).returncode, 0)
            with h5py.File(os.path.join(tmp, "t1.h5")) as a, h5py.File(os.path.join(tmp, "t2.h5")) as b:
                for group in ("ordered", "symmetric", "history", "folds", "critical"):
                    for name in a[group]:
                        np.testing.assert_array_equal(a[group][name][()], b[group][name][()])


if __name__ == "__main__":
    unittest.main()
