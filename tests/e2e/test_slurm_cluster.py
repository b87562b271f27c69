"""The array jobs of configs/slurm on a real SLURM: a private single-node cluster (Debian's
slurmctld, slurmd and munge; see slurm_cluster.py) runs `submit.sh` as a user would. Every
scenario is submitted at once and runs side by side; each merged file must equal a single
process's file dataset by dataset.

- time limits: tasks signalled before a 1-minute limit finish cleanly, requeue themselves and
  continue, over several periods, and the merge job runs by itself;
- a task that fails (exit 2) is not requeued; the merge job ends with one line naming it, its
  log and the command that resubmits just it, and that command finishes the sweep;
- `scontrol requeue` of a running task (preemption) changes nothing in the result;
- options after SHARDS reach both sbatch calls;
- a `cdl micro` array of two shards.

Needs root; skipped with that reason otherwise (CI runs as root, where it must run).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np
from e2e_support import CDL, REPO_ROOT, clean_env, datasets, require_cdl
from slurm_cluster import PrivateSlurmCluster, unavailable_reason

# A sweep of about 30 s of one core per shard, in points of a tenth of a second: with a
# 1-minute limit and a 15-second signal lead (SLURM signals up to 30 s earlier still, so
# after 15 to 45 s) and the machine shared with the other scenarios, each task needs two or
# three periods.
TIME_LIMIT_CONFIG = """[theory]
units = 100000
runs = 5
depths = 0,1,2
sigma = log:-1:1:40
protocols = nonadiabatic
samples = 20
"""

# A few seconds a shard: long enough to be requeued while it runs.
SHORT_CONFIG = """[theory]
units = 40000
runs = 3
depths = 0,2
sigma = log:-1:2:10
protocols = nonadiabatic,adiabatic_up
samples = 20
"""

MICRO_CONFIG = """[micro]
task = classes
data = synthetic:20:10
units = 10
runs = 2
depths = 0,1
width = 20
sigma = 0,0.3,3
protocols = nonadiabatic
train-size = 100
test-size = 100
transient-steps = 500
measure-steps = 200
record-every = 100
"""

ENDED_WITHIN = 400  # seconds; the whole module takes about 3 minutes on 2 cores


def setUpModule():
    require_cdl()
    reason = unavailable_reason()
    if reason and os.geteuid() == 0:
        # Where the suite runs as root (CI) the cluster must start: setup.sh installs it.
        raise RuntimeError(f"cannot start a private SLURM cluster: {reason}")
    if reason:
        raise unittest.SkipTest(reason)


class Scenario:
    """One submission directory, as a user's checkout: build/cdl, configs/slurm, its INI."""

    def __init__(self, root, name, config):
        self.dir = Path(root) / name
        (self.dir / "build").mkdir(parents=True)
        (self.dir / "build" / "cdl").symlink_to(CDL)
        shutil.copytree(REPO_ROOT / "configs" / "slurm", self.dir / "configs" / "slurm")
        (self.dir / "sweep.ini").write_text(config)
        self.kind = "micro" if config.startswith("[micro]") else "theory"
        self.array = self.merge = None

    def submit(self, cluster, shards, *options, env=None):
        result = subprocess.run(
            ["bash", "configs/slurm/submit.sh", self.kind, "sweep.ini", "out/sweep.h5",
             str(shards), *options], cwd=self.dir, env=dict(cluster.env, **(env or {})),
            capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"submit.sh exited {result.returncode}: {result.stderr}")
        match = re.search(r"array job (\d+) .*merge job (\d+)", result.stdout)
        if not match:
            raise AssertionError(f"submit.sh printed no job ids: {result.stdout}")
        self.array, self.merge = match.groups()
        return result

    def log(self, name):
        path = self.dir / "logs" / name
        return path.read_text(errors="replace") if path.exists() else f"(no log {path})"

    def start_reference(self):
        """The same sweep in one process, unsharded, in the background."""
        return subprocess.Popen([str(CDL), self.kind, "--config", "sweep.ini", "--output",
                                 "single.h5", "--threads", "1", "--quiet"], cwd=self.dir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=clean_env())


class RealSlurmTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="cdl-slurm-test-")
        # More CPUs than the machine has, so that every scenario runs at once.
        cls.cluster = PrivateSlurmCluster(cpus=12).__enter__()
        try:
            cls.submit_all()
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def submit_all(cls):
        c = cls.cluster
        cls.time_limit = Scenario(cls.root, "time_limit", TIME_LIMIT_CONFIG)
        cls.time_limit.submit(c, 2, "--time=1", "--signal=TERM@15", "--cpus-per-task=1",
                              env={"CDL_MAX_RESTARTS": "8"})
        cls.failure = Scenario(cls.root, "failure", SHORT_CONFIG)
        # A damaged unfinished file: --resume refuses it (exit 2) rather than lose its points.
        (cls.failure.dir / "out").mkdir()
        (cls.failure.dir / "out" / "sweep.shard-1-of-2.h5.part").write_text("damaged\n")
        cls.failure.submit(c, 2, "--cpus-per-task=1")
        cls.micro = Scenario(cls.root, "micro", MICRO_CONFIG)
        cls.micro.submit(c, 2, "--cpus-per-task=1")
        cls.references = {s: s.start_reference()
                          for s in (cls.time_limit, cls.failure, cls.micro)}

    @classmethod
    def tearDownClass(cls):
        for process in cls.references.values():
            process.kill()
            process.wait()
        cls.cluster.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    # ------------------------------------------------------------------------ checks

    def reference(self, scenario):
        process = self.references[scenario]
        if process.returncode is None:
            process.error = process.communicate(timeout=ENDED_WITHIN)[1]
        self.assertEqual(process.returncode, 0, process.error)
        return scenario.dir / "single.h5"

    def assert_equal_files(self, reference, merged):
        a, b = datasets(reference), datasets(merged)
        self.assertEqual(sorted(a), sorted(b))
        for name in a:
            self.assertEqual(a[name].dtype, b[name].dtype, name)
            self.assertTrue(np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"),
                            name)

    def assert_merged(self, scenario):
        """The merge job completed by itself and wrote the single process's file."""
        merge = self.cluster.wait_until_ended(scenario.merge, ENDED_WITHIN)[0]
        log = scenario.log(f"cdl-merge-{scenario.merge}.out")
        self.assertEqual(merge["JobState"], "COMPLETED", log)
        merged = scenario.dir / "out" / "sweep.h5"
        self.assertTrue(merged.exists(), log)
        return merged

    # ------------------------------------------------------------------------ scenarios

    def test_1_options_after_shards_reach_both_sbatch_calls(self):
        scenario = Scenario(self.root, "options", SHORT_CONFIG)
        result = scenario.submit(self.cluster, 3, "--job-name=cdl-site", "--time=7", "--hold",
                                 "--cpus-per-task=1")
        # The dry run's estimate is per shard, for the CPUs a task will have.
        self.assertIn("time per shard (3 shards, 1 thread each;", result.stdout)
        self.assertIn("slurm: --time=", result.stdout)
        try:
            tasks = self.cluster.jobs(scenario.array)
            merge = self.cluster.jobs(scenario.merge)[0]
            self.assertEqual(len(tasks), 1)  # a pending array is one record, 0-2
            for record in (*tasks, merge):
                self.assertEqual(record["JobName"], "cdl-site")
                self.assertEqual(record["TimeLimit"], "00:07:00")
                self.assertEqual(record["NumCPUs"], "1")
                self.assertEqual(record["Reason"], "JobHeldUser")
            self.assertEqual(tasks[0]["ArrayTaskId"], "0-2")
            self.assertIn(f"afterany:{scenario.array}", merge["Dependency"])
        finally:
            self.cluster.run("scancel", scenario.array, scenario.merge)

    def test_1_array_option_outside_the_shards_is_refused(self):
        scenario = Scenario(self.root, "bad_array", SHORT_CONFIG)
        result = subprocess.run(["bash", "configs/slurm/submit.sh", "theory", "sweep.ini",
                                 "out/sweep.h5", "2", "--array=1-2"], cwd=scenario.dir,
                                env=self.cluster.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--array '1-2'", result.stderr)
        self.assertFalse((scenario.dir / "logs").exists() and
                         any((scenario.dir / "logs").iterdir()))

    def test_5_time_limits_requeue_every_task_until_the_sweep_is_done(self):
        scenario = self.time_limit
        merged = self.assert_merged(scenario)
        for task in self.cluster.jobs(scenario.array):
            log = scenario.log(f"cdl-sweep-{scenario.array}_{task['ArrayTaskId']}.out")
            with self.subTest(task=task["ArrayTaskId"]):
                self.assertEqual(task["JobState"], "COMPLETED", log)
                # Signalled before its limit at least once, and requeued by itself.
                self.assertGreaterEqual(int(task["Restarts"]), 1, log)
                self.assertIn("stopped before its time limit at ", log)
                self.assertIn("requeueing it (restart 1 of at most 8)", log)
                self.assertIn("complete at", log)
        self.assert_equal_files(self.reference(scenario), merged)

    def test_3_a_failed_task_is_named_by_the_merge_job_and_resubmitting_it_finishes(self):
        scenario = self.failure
        merge = self.cluster.wait_until_ended(scenario.merge, ENDED_WITHIN)[0]
        log = scenario.log(f"cdl-merge-{scenario.merge}.out")
        self.assertEqual(merge["JobState"], "FAILED", log)
        tasks = {t["ArrayTaskId"]: t for t in self.cluster.jobs(scenario.array)}
        self.assertEqual(tasks["0"]["JobState"], "COMPLETED")
        self.assertEqual(tasks["1"]["JobState"], "FAILED")
        self.assertEqual(tasks["1"]["ExitCode"], "2:0")
        self.assertEqual(tasks["1"]["Restarts"], "0")  # exit 2 is not requeued
        # The last line names the task, its log and the command that resubmits it.
        last = log.strip().splitlines()[-1]
        task = f"{scenario.array}_1"
        self.assertIn(f"task {task} FAILED (exit 2:0)", last)
        self.assertIn(f"logs/cdl-sweep-{task}.out", last)
        self.assertIn("1 of 2 shards did not finish", last)
        self.assertIn("cannot be resumed", scenario.log(f"cdl-sweep-{task}.out"))
        resubmit = last.split("(they continue with --resume):", 1)[1].strip()
        self.assertTrue(resubmit.startswith("configs/slurm/submit.sh theory sweep.ini "), last)
        self.assertTrue(resubmit.endswith("--array=1"), last)
        # The user moves the damaged file aside and runs the command as printed.
        (scenario.dir / "out" / "sweep.shard-1-of-2.h5.part").rename(scenario.dir / "damaged")
        result = subprocess.run(["bash", "-c", resubmit], cwd=scenario.dir,
                                env=self.cluster.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        scenario.array, scenario.merge = re.search(r"array job (\d+) .*merge job (\d+)",
                                                   result.stdout).groups()
        self.assertIn("(shards 1 of 2)", result.stdout)
        merged = self.assert_merged(scenario)
        self.assert_equal_files(self.reference(scenario), merged)

    def test_2_a_preempted_task_continues_to_the_same_result(self):
        # Submitted now (the others run meanwhile), so that it is caught while it runs.
        scenario = Scenario(self.root, "preempted", SHORT_CONFIG)
        scenario.submit(self.cluster, 2, "--cpus-per-task=1")
        task = f"{scenario.array}_0"
        part = scenario.dir / "out" / "sweep.shard-0-of-2.h5.part"
        deadline = time.time() + ENDED_WITHIN
        while not part.exists():  # running, its file laid out
            self.assertLess(time.time(), deadline, "task 0 never started")
            time.sleep(0.1)
        time.sleep(0.5)
        self.assertEqual(self.cluster.jobs(task)[0]["JobState"], "RUNNING")
        self.cluster.run("scontrol", "requeue", task)
        merged = self.assert_merged(scenario)
        record = [t for t in self.cluster.jobs(scenario.array) if t["ArrayTaskId"] == "0"][0]
        log = scenario.log(f"cdl-sweep-{task}.out")
        self.assertEqual(record["JobState"], "COMPLETED", log)
        self.assertGreaterEqual(int(record["Restarts"]), 1, log)
        self.assertIn("interrupted; finished points are in", log)  # stopped in the middle
        self.assertIn("(start 2)", log)
        # Its undisturbed twin: the failure scenario's sweep is the same configuration.
        self.assert_equal_files(self.reference(self.failure), merged)

    def test_4_a_micro_array_of_two_shards(self):
        merged = self.assert_merged(self.micro)
        self.assert_equal_files(self.reference(self.micro), merged)


if __name__ == "__main__":
    unittest.main()
