"""The SLURM scripts of configs/slurm, run as SLURM would run them (array tasks with their
environment, then the merge job), with stand-ins for `srun` and `sbatch` on PATH. The merged
file must equal a single process's file dataset by dataset."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np
from e2e_support import CDL, REPO_ROOT, datasets

CONFIG = """[theory]
units = 30
runs = 3
depths = 0,2
sigma = log:-1:2:6
protocols = nonadiabatic,adiabatic_up
samples = 20
"""


class SlurmScriptsTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        # The scripts call ./build/cdl from the submission directory.
        (self.dir / "build").mkdir()
        (self.dir / "build" / "cdl").symlink_to(CDL)
        shutil.copytree(REPO_ROOT / "configs" / "slurm", self.dir / "configs" / "slurm")
        (self.dir / "sweep.ini").write_text(CONFIG)
        bin_dir = self.dir / "fakebin"
        bin_dir.mkdir()
        srun = bin_dir / "srun"
        srun.write_text('#!/bin/sh\nexec "$@"\n')
        srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
        self.env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")

    def run_script(self, script, *args, env=None):
        return subprocess.run(["bash", f"configs/slurm/{script}", *args], cwd=self.dir,
                              env=env or self.env, capture_output=True, text=True, timeout=120)

    def test_array_tasks_then_merge_equal_a_single_process(self):
        count = 4
        for task in range(1, count + 1):  # an array submitted as --array=1-4
            env = dict(self.env, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN="1",
                       SLURM_ARRAY_TASK_COUNT=str(count), SLURM_CPUS_PER_TASK="1")
            result = self.run_script("sweep-array.sbatch", "theory", "sweep.ini", "out/fig.h5",
                                     env=env)
            self.assertEqual(result.returncode, 0, result.stderr)
            # A requeued task finds its file complete and does nothing more.
            again = self.run_script("sweep-array.sbatch", "theory", "sweep.ini", "out/fig.h5",
                                    env=env)
            self.assertEqual(again.returncode, 0, again.stderr)
        merged = self.run_script("merge.sbatch", "out/fig.h5", str(count))
        self.assertEqual(merged.returncode, 0, merged.stderr)
        self.assertIn("nonadiabatic:", merged.stdout)  # cdl info's summary

        single = subprocess.run([str(CDL), "theory", "--config", "sweep.ini", "--output",
                                 "single.h5", "--quiet"], cwd=self.dir, capture_output=True,
                                text=True)
        self.assertEqual(single.returncode, 0, single.stderr)
        a, b = datasets(self.dir / "single.h5"), datasets(self.dir / "out" / "fig.h5")
        self.assertEqual(sorted(a), sorted(b))
        for name in a:
            self.assertEqual(a[name].dtype, b[name].dtype, name)
            self.assertTrue(np.array_equal(a[name], b[name],
                                           equal_nan=a[name].dtype.kind == "f"), name)


if __name__ == "__main__":
    unittest.main()
