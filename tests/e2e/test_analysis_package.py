"""The analysis package installs like one: `pip install --no-deps --no-build-isolation` of
analysis/ (Debian's pip, no network) into a virtual environment that sees Debian's numpy,
h5py, xarray and matplotlib gives `import cdl_analysis` from any directory and a `cdl-plot`
command that draws a figure and refuses bad use with exit 2 and one line."""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from e2e_support import CDL, REPO_ROOT, require_cdl, run_cdl


def setUpModule():
    require_cdl()


class AnalysisPackageTest(unittest.TestCase):
    def test_pip_install_gives_the_module_and_cdl_plot_anywhere(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            source = tmp / "analysis"  # a copy: the build writes build/ and *.egg-info beside it
            shutil.copytree(REPO_ROOT / "analysis", source,
                            ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
            env = tmp / "env"
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(env)],
                           check=True, capture_output=True)
            installed = subprocess.run(
                [str(env / "bin" / "pip"), "install", "--no-index", "--no-deps",
                 "--no-build-isolation", "--quiet", str(source)],
                capture_output=True, text=True)
            self.assertEqual(installed.returncode, 0, installed.stderr)
            elsewhere = tmp / "elsewhere"
            elsewhere.mkdir()
            clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            found = subprocess.run(
                [str(env / "bin" / "python"), "-c",
                 "import cdl_analysis; print(cdl_analysis.__file__); "
                 "print(cdl_analysis.open_sweep.__name__)"],
                cwd=elsewhere, capture_output=True, text=True, env=clean)
            self.assertEqual(found.returncode, 0, found.stderr)
            self.assertTrue(found.stdout.startswith(str(env)), found.stdout)  # not the checkout
            run_cdl("theory", ["--units", "20", "--runs", "2", "--depths", "0,1", "--sigma",
                               "log:-1:1:5", "--quiet", "--output", "sweep.h5"], elsewhere)
            plot = env / "bin" / "cdl-plot"
            drawn = subprocess.run([str(plot), "order", "sweep.h5", "--out", "order.png"],
                                   cwd=elsewhere, capture_output=True, text=True, env=clean)
            self.assertEqual(drawn.returncode, 0, drawn.stderr)
            self.assertEqual(drawn.stdout.strip(), "order.png")
            self.assertEqual((elsewhere / "order.png").read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
            refused = subprocess.run([str(plot), "order", "missing.h5"], cwd=elsewhere,
                                     capture_output=True, text=True, env=clean)
            self.assertEqual(refused.returncode, 2)
            self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)
            self.assertTrue(refused.stderr.startswith("cdl-plot: error:"), refused.stderr)


if __name__ == "__main__":
    unittest.main()
