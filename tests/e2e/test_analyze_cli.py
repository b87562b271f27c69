"""End-to-end tests of `cdl analyze`: the /analysis layout on real sweeps, the table, the
stationary predictions side by side, and bad input (exit 2, one line, nothing written)."""

import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np
from e2e_support import run_cdl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analysis"))
from cdl_analysis import transitions  # noqa: E402

SWEEP = ["--units", "60", "--runs", "6", "--depths", "0,1,2", "--sigma", "log:-2:2.2:16",
         "--protocols", "nonadiabatic,adiabatic_up,adiabatic_down", "--samples", "20", "--quiet"]


class AnalyzeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp())
        result = run_cdl("theory", [*SWEEP, "--output", "sweep.h5"], cls.dir)
        assert result.returncode == 0, result.stderr
        result = run_cdl("stationary", ["--output", "stationary.h5", "--quiet"], cls.dir)
        assert result.returncode == 0, result.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_analysis_layout_and_values(self):
        result = run_cdl("analyze", ["sweep.h5", "--output", "analysis.h5", "--theory",
                                     "stationary.h5"], self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("sigma_c1", result.stdout)
        self.assertIn("theory c1", result.stdout)
        self.assertIn("hysteresis", result.stdout)
        with h5py.File(self.dir / "sweep.h5") as sweep, h5py.File(self.dir / "analysis.h5") as out:
            n_unit = sweep["unit"].shape[0]
            for protocol in ("nonadiabatic", "adiabatic_up", "adiabatic_down"):
                g = out["analysis"][protocol]
                op = np.where(sweep[protocol]["status"][()] == 0,
                              sweep[protocol]["order_parameter"][()], np.nan)
                np.testing.assert_allclose(g["mean"][()], np.nanmean(op, axis=1), rtol=1e-12)
                np.testing.assert_allclose(g["se"][()], np.nanstd(op, axis=1, ddof=1)
                                           / np.sqrt(op.shape[1]), rtol=1e-10)
                np.testing.assert_allclose(g["chi"][()], n_unit * np.nanvar(op, axis=1, ddof=1),
                                           rtol=1e-10)
                self.assertEqual(g["sigma_c1_ci"].shape, (3, 2))
                c1, ci = g["sigma_c1"][()], g["sigma_c1_ci"][()]
                # D = 0 has no ordered window; D = 1, 2 do, inside their intervals.
                self.assertTrue(np.isnan(c1[0]))
                if protocol == "nonadiabatic":
                    for d in (1, 2):
                        self.assertTrue(ci[d, 0] <= c1[d] <= ci[d, 1], (d, c1[d], ci[d]))
            self.assertEqual(out["analysis"]["hysteresis"]["area"].shape, (3,))

    def test_ordered_window_at_every_horizon(self):
        # One integration to t = 40 seen at four horizons: the window located on each horizon's
        # realization mean, equal to the Python estimator's; the last horizon is the summary's.
        result = run_cdl("theory", ["--units", "60", "--runs", "6", "--depths", "0,1,2", "--sigma",
                                    "log:-2:2.2:16", "--protocols", "nonadiabatic", "--t-end",
                                    "40", "--samples", "41", "--horizons", "5,10,20,40",
                                    "--quiet", "--output", "horizons.h5"], self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = run_cdl("analyze", ["horizons.h5", "--output", "horizons-analysis.h5",
                                     "--theory", "stationary.h5"], self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("ordered window at each horizon", result.stdout)
        rows = [line.split() for line in result.stdout.splitlines()]
        self.assertEqual(sum(1 for r in rows if len(r) > 1 and r[1] == "inf"), 3)  # t -> inf rows
        with h5py.File(self.dir / "horizons.h5") as sweep, \
                h5py.File(self.dir / "horizons-analysis.h5") as out:
            g, s = out["analysis"]["nonadiabatic"], sweep["nonadiabatic"]
            np.testing.assert_array_equal(g["horizon"][()], [5, 10, 20, 40])
            done = (s["status"][()] == 0)[..., None]
            op = np.where(done, s["order_parameter_horizon"][()], np.nan)
            mean = np.nanmean(op, axis=1)  # [depth, sigma, horizon]
            np.testing.assert_allclose(g["mean_horizon"][()], mean, rtol=1e-12)
            sigma = s["sigma"][()]
            c1, c2 = g["sigma_c1_horizon"][()], g["sigma_c2_horizon"][()]
            self.assertEqual(g["sigma_c1_horizon_ci"].shape, (3, 4, 2))
            for d in range(3):
                for h in range(4):
                    expected = transitions.locate(sigma, mean[d, :, h])
                    np.testing.assert_allclose([c1[d, h], c2[d, h]], expected, rtol=1e-9)
            np.testing.assert_array_equal(c1[:, -1], g["sigma_c1"][()])
            np.testing.assert_array_equal(c2[:, -1], g["sigma_c2"][()])
            # The horizons see different curves: D = 2 moves with the observation time.
            self.assertFalse(np.allclose(mean[2, :, 0], mean[2, :, -1]))

    def test_analysis_written_into_the_file_replaces_an_earlier_one(self):
        shutil.copy(self.dir / "sweep.h5", self.dir / "inplace.h5")
        for _ in range(2):
            result = run_cdl("analyze", ["inplace.h5", "--quiet"], self.dir)
            self.assertEqual(result.returncode, 0, result.stderr)
        with h5py.File(self.dir / "inplace.h5") as f:
            self.assertIn("analysis", f)
            self.assertIn("order_parameter", f["nonadiabatic"])  # the sweep itself untouched
        # Written into a copy that replaced the file: no temporary and no lock left behind.
        leftovers = [p.name for p in self.dir.iterdir() if p.name.startswith("inplace.h5.")]
        self.assertEqual(leftovers, [])
        (self.dir / "inplace.h5").unlink()

    def test_analysis_to_a_new_file_goes_through_a_part_file(self):
        result = run_cdl("analyze", ["sweep.h5", "--output", "only.h5", "--quiet"], self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(p.name for p in self.dir.iterdir() if p.name.startswith("only")),
                         ["only.h5"])
        with h5py.File(self.dir / "only.h5") as f, h5py.File(self.dir / "sweep.h5") as source:
            self.assertIn("analysis", f)
            self.assertEqual(f.attrs["subcommand"], "analyze")
            for protocol in ("nonadiabatic", "adiabatic_up", "adiabatic_down"):
                status = source[protocol]["status"][()]
                g = f["analysis"][protocol]
                self.assertEqual(g.attrs["points_done"], np.sum(status == 0))
                self.assertEqual(g.attrs["points_total"], status.size)
        (self.dir / "only.h5").unlink()

    def assert_bad_input(self, args, option):
        before = sorted(p.name for p in self.dir.iterdir())
        result = run_cdl("analyze", args, self.dir)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(option, lines[0])
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), before)

    def test_bad_input(self):
        (self.dir / "not_hdf5.txt").write_text("hello")
        with h5py.File(self.dir / "plain.h5", "w") as f:
            f["x"] = np.arange(3)
        shutil.copy(self.dir / "sweep.h5", self.dir / "failed.h5")
        with h5py.File(self.dir / "failed.h5", "a") as f:
            for protocol in ("nonadiabatic", "adiabatic_up", "adiabatic_down"):
                f[protocol]["status"][...] = 2
        shutil.copy(self.dir / "sweep.h5", self.dir / "badshape.h5")
        with h5py.File(self.dir / "badshape.h5", "a") as f:  # the case: status cut short
            status = f["nonadiabatic"]["status"][()]
            del f["nonadiabatic"]["status"]
            f["nonadiabatic"]["status"] = status[:, :, :-1]
        shutil.copy(self.dir / "sweep.h5", self.dir / "nogroup.h5")
        with h5py.File(self.dir / "nogroup.h5", "a") as f:
            del f["nonadiabatic"]["order_parameter"]
        cases = [
            (["not_hdf5.txt"], "not_hdf5.txt"),
            (["plain.h5"], "not a cdl file"),
            (["failed.h5"], "every point failed"),
            (["nogroup.h5"], "order_parameter"),
            (["badshape.h5"], "dataset /nonadiabatic/status has the wrong shape"),
            (["stationary.h5"], "--theory"),
            (["missing.h5"], "missing.h5"),
            (["sweep.h5", "--theory", "sweep.h5"], "--theory"),
            (["sweep.h5", "--bootstrap", "3"], "--bootstrap"),
            (["sweep.h5", "--output", "sweep.h5", "--overwrite"], "is the input file"),
            (["sweep.h5", "--output", "link.h5", "--overwrite"], "symbolic link"),
            (["sweep.h5", "--output", "newdir/"], "names a directory"),  # nothing computed
            (["fifo.h5"], "not a regular file"),  # used to wait for a writer forever
        ]
        (self.dir / "link.h5").symlink_to(self.dir / "not_hdf5.txt")
        os.mkfifo(self.dir / "fifo.h5")
        for args, expected in cases:
            with self.subTest(args=args):
                self.assert_bad_input(args, expected)
        self.assertEqual((self.dir / "not_hdf5.txt").read_text(), "hello")  # not written through
        for name in ("not_hdf5.txt", "plain.h5", "failed.h5", "nogroup.h5", "link.h5",
                     "badshape.h5", "fifo.h5"):
            (self.dir / name).unlink()


if __name__ == "__main__":
    unittest.main()
