"""End-to-end tests of running sweeps as cluster jobs: shards (`--task-index`, `--task-count`, the
SLURM array variables), `cdl merge`, interruption and `--resume`, and `cdl info`.

Run from the repository root with

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_cluster_cli.py

`CDL_BIN` names the executable (default: build/cdl under the repository root). Every test works
in its own temporary directory. The merge tests use tiny sweeps; the kill-and-resume tests use
sweeps of about two seconds and interrupt them at moments drawn from a fixed-seed generator, so
the whole file takes well under a minute on two cores.
"""

import json
import os
import random
import re
import shutil
import signal
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np
from e2e_support import (REPO_ROOT, STATUS_NAMES, STATUS_NOT_RUN, CdlTestCase, contains_token,
                         datasets, protocol_groups, require_cdl, run_cdl, snapshot, start_cdl)

# Tiny sweeps with every protocol, so that adiabatic chains (never split between shards) and
# single non-adiabatic points mix.
THEORY_TINY = ["--units", "20", "--runs", "3", "--depths", "0,1,2", "--sigma", "log:-1:2:8",
               "--protocols", "nonadiabatic,adiabatic_up,adiabatic_down", "--samples", "20",
               "--quiet"]
MICRO_TINY = ["--units", "4", "--runs", "2", "--depths", "0,1", "--sigma", "0,0.3,3",
              "--protocols", "nonadiabatic,adiabatic_up", "--transient-steps", "20",
              "--measure-steps", "20", "--record-every", "10", "--data", "synthetic:5:3",
              "--train-size", "40", "--test-size", "20", "--quiet"]
TINY = {"theory": THEORY_TINY, "micro": MICRO_TINY}

# Sweeps of about two seconds on two cores, to be interrupted.
THEORY_SLOW = ["--config", str(REPO_ROOT / "configs" / "paper-fig2.ini"), "--runs", "100",
               "--threads", "2", "--quiet"]
MICRO_SLOW = ["--units", "8", "--runs", "3", "--depths", "0,1", "--sigma", "log:-2:1:8",
              "--protocols", "nonadiabatic,adiabatic_up", "--transient-steps", "700",
              "--measure-steps", "700", "--record-every", "100", "--data", "synthetic:10:4",
              "--train-size", "50", "--test-size", "20", "--threads", "2", "--quiet"]
SLOW = {"theory": THEORY_SLOW, "micro": MICRO_SLOW}

# Dimension scales: written when the file is created, not per point.
SCALES = {"depth", "run", "sigma", "time", "unit", "step", "horizon"}


def setUpModule():
    require_cdl()


def shard_path(output, index, count):
    """OUTPUT with .shard-I-of-K before its extension (unchanged for K = 1)."""
    if count == 1:
        return str(output)
    stem, extension = os.path.splitext(str(output))
    return f"{stem}.shard-{index}-of-{count}{extension}"


class ClusterTestCase(CdlTestCase):

    def assert_info_counts(self, path, cwd):
        """`cdl info FILE --json` parses and its counts agree with the status datasets (on a shard:
        the points it owns). Returns the parsed JSON."""
        result = self.run_ok("info", [str(path), "--json"], cwd)
        info = json.loads(result.stdout)
        with h5py.File(path, "r") as f:
            self.assertEqual(info["subcommand"], f.attrs["subcommand"])
            self.assertEqual(info["config"], f.attrs["config"])
            self.assertEqual(info["depths"], f["depth"][()].tolist())
            self.assertEqual(info["runs"], len(f["run"][()]))
            self.assertEqual(info["shard_index"], int(f.attrs.get("shard_index", 0)))
            self.assertEqual(info["shard_count"], int(f.attrs.get("shard_count", 1)))
            self.assertEqual(sorted(info["protocols"]), protocol_groups(f))
            for protocol in protocol_groups(f):
                with self.subTest(info_protocol=protocol):
                    g, counts = f[protocol], info["protocols"][protocol]
                    status = g["status"][()]
                    owned = np.ones(status.shape, bool)
                    if "owned" in g:
                        owned = g["owned"][()].astype(bool)
                        self.assertEqual(counts["owned"], int(owned.sum()))
                    else:
                        self.assertIsNone(counts["owned"])
                    self.assertEqual(counts["sigma"], len(g["sigma"][()]))
                    for code, name in enumerate(STATUS_NAMES):
                        self.assertEqual(counts[name], int(np.sum((status == code) & owned)), name)
                    self.assertEqual(counts["failed"], int(np.sum((status >= 2) & owned)))
        return info


# ---------------------------------------------------------------------- shards and merge


class MergeTest(ClusterTestCase):

    def run_shards(self, subcommand, args, directory, count, threads):
        out = os.path.join(directory, "out.h5")
        for index in range(count):
            self.run_ok(subcommand, [*args, "--task-index", str(index), "--task-count", str(count),
                                     "--threads", str(threads), "--output", out], directory)
        files = [shard_path(out, index, count) for index in range(count)]
        self.assertEqual(sorted(os.listdir(directory)), sorted(os.path.basename(p) for p in files))
        return files

    def assert_shards_partition_the_sweep(self, files):
        count = len(files)
        total = {}
        for index, path in enumerate(files):
            with h5py.File(path, "r") as f:
                self.assertEqual(int(f.attrs["shard_index"]), index, path)
                self.assertEqual(int(f.attrs["shard_count"]), count, path)
                for protocol in protocol_groups(f):
                    g = f[protocol]
                    status = g["status"][()]
                    if count == 1:
                        self.assertNotIn("owned", g)
                        owned = np.ones(status.shape, bool)
                    else:
                        self.assertIn("owned", g, f"{path}: {protocol} has no owned dataset")
                        self.assertEqual(g["owned"].shape, status.shape)
                        owned = g["owned"][()].astype(bool)
                    # A shard computes exactly the points it owns.
                    self.assertTrue(np.all(status[owned] != STATUS_NOT_RUN), f"{path} {protocol}")
                    self.assertTrue(np.all(status[~owned] == STATUS_NOT_RUN), f"{path} {protocol}")
                    if protocol.startswith("adiabatic"):
                        # An adiabatic chain (one depth, one realization, every coupling) is
                        # never split.
                        self.assertTrue(np.all(owned == owned[..., :1]), f"{path}: {protocol} "
                                        "chain split between shards")
                    total[protocol] = total.get(protocol, 0) + owned.astype(int)
        for protocol, claims in total.items():
            self.assertTrue(np.all(claims == 1),
                            f"{protocol}: points owned by {sorted(set(claims.ravel()))} shards")

    def check_merge_equals_single_process(self, subcommand):
        args = TINY[subcommand]
        with tempfile.TemporaryDirectory() as tmp:
            reference = os.path.join(tmp, "single.h5")
            self.run_ok(subcommand, [*args, "--threads", "1", "--output", reference], tmp)
            for threads in (1, 2):
                for count in (1, 3, 7):
                    with self.subTest(subcommand=subcommand, threads=threads, shards=count):
                        directory = os.path.join(tmp, f"threads{threads}-k{count}")
                        os.mkdir(directory)
                        files = self.run_shards(subcommand, args, directory, count, threads)
                        self.assert_shards_partition_the_sweep(files)
                        merged = os.path.join(tmp, f"merged-threads{threads}-k{count}.h5")
                        result = run_cdl("merge", [merged, *files], tmp)
                        self.assertEqual(result.returncode, 0, result.stderr)
                        self.assertFalse(os.path.exists(merged + ".part"))
                        names = []
                        with h5py.File(merged, "r") as f:
                            f.visit(names.append)
                        self.assertFalse([n for n in names if n.split("/")[-1] == "owned"],
                                         "the merged file has an owned dataset")
                        self.assert_same_file(merged, reference)

    def test_theory_shards_merge_into_the_single_process_file(self):
        self.check_merge_equals_single_process("theory")

    def test_micro_shards_merge_into_the_single_process_file(self):
        self.check_merge_equals_single_process("micro")

    def test_slurm_array_variables_choose_the_shard_and_options_win(self):
        env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1",
               "SLURM_ARRAY_TASK_COUNT": "7"}
        for subcommand in ("theory", "micro"):
            cases = [("SLURM variables only", [], 4),
                     ("explicit options win", ["--task-index", "2", "--task-count", "7"], 2)]
            for name, extra, index in cases:
                with self.subTest(subcommand=subcommand, case=name), \
                        tempfile.TemporaryDirectory() as tmp:
                    out = os.path.join(tmp, "out.h5")
                    self.run_ok(subcommand, [*TINY[subcommand], *extra, "--output", out], tmp,
                                env=env)
                    self.assertEqual(os.listdir(tmp), [f"out.shard-{index}-of-7.h5"])
                    with h5py.File(shard_path(out, index, 7), "r") as f:
                        self.assertEqual(int(f.attrs["shard_index"]), index)
                        self.assertEqual(int(f.attrs["shard_count"]), 7)


class MergeBadInputTest(ClusterTestCase):
    """Files shared by the tests: theory shards of 3 (seed 1 and seed 2) and of 7, micro shards of
    3, and the single-process theory file."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = cls._tmp.name
        cls.shards = {}
        for key, subcommand, extra, count in (("theory", "theory", [], 3),
                                              ("theory7", "theory", [], 7),
                                              ("seed2", "theory", ["--seed", "2"], 3),
                                              ("micro", "micro", [], 3)):
            out = os.path.join(cls.tmp, f"{key}.h5")
            for index in range(count):
                result = run_cdl(subcommand, [*TINY[subcommand], *extra, "--task-index", str(index),
                                              "--task-count", str(count), "--output", out], cls.tmp)
                assert result.returncode == 0, result.stderr
            cls.shards[key] = [shard_path(out, index, count) for index in range(count)]
        cls.single = os.path.join(cls.tmp, "single.h5")
        result = run_cdl("theory", [*THEORY_TINY, "--output", cls.single], cls.tmp)
        assert result.returncode == 0, result.stderr

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def assert_merge_refused(self, files, tokens, extra=()):
        """`cdl merge` must exit 2 with one stderr line holding every one of `tokens` and leave
        the directory as it was (no output, no OUTPUT.part). Returns the line."""
        out = os.path.join(self.tmp, "merged.h5")
        before = snapshot(self.tmp)
        result = run_cdl("merge", [out, *files, *extra], self.tmp)
        line = self.one_line(result)
        for token in tokens:
            self.assertIn(token, line)
        self.assertEqual(snapshot(self.tmp), before, "the directory changed on a refused merge")
        return line

    def test_shards_of_different_sweeps_are_refused(self):
        theory, seed2 = self.shards["theory"], self.shards["seed2"]
        self.assert_merge_refused([theory[0], seed2[1], theory[2]], [seed2[1]])

    def test_theory_and_micro_shards_are_refused(self):
        theory, micro = self.shards["theory"], self.shards["micro"]
        self.assert_merge_refused([theory[0], micro[1], theory[2]], [micro[1]])
        self.assert_merge_refused([micro[0], theory[1], micro[2]], [theory[1]])

    def test_shards_of_different_shard_counts_are_refused(self):
        self.assert_merge_refused([self.shards["theory"][0], self.single], [self.single])

    def test_files_that_are_not_cdl_sweeps_are_refused(self):
        plain = os.path.join(self.tmp, "plain.h5")
        with h5py.File(plain, "w") as f:
            f["x"] = np.arange(3)
        text = os.path.join(self.tmp, "notes.txt")
        Path(text).write_text("not HDF5\n")
        missing = os.path.join(self.tmp, "nonexistent.h5")
        try:
            theory = self.shards["theory"]
            for bad in (plain, text, missing):
                with self.subTest(file=os.path.basename(bad)):
                    self.assert_merge_refused([*theory[:2], bad], [bad])
                    self.assert_merge_refused([bad, *theory], [bad])
        finally:
            os.remove(plain)
            os.remove(text)

    def test_damaged_shards_are_refused_naming_the_file_and_the_dataset(self):
        # A dataset deleted, a dataset of the wrong shape (the loss_trace case: zeros
        # merged silently), a status outside the flag table: code 2, the shard and the dataset
        # named, no output and no OUT.part.
        def delete_loss(f):
            del f["nonadiabatic/loss"]

        def reshape_m(f):
            shape = f["nonadiabatic/m"].shape
            del f["nonadiabatic/m"]
            f["nonadiabatic/m"] = np.zeros((shape[0], shape[1], shape[2], shape[3] + 1))

        def bad_status(f):
            status = f["adiabatic_up/status"][()]
            status.flat[0] = 99
            f["adiabatic_up/status"][...] = status

        theory = self.shards["theory"]
        for name, damage, tokens in (("missing dataset", delete_loss, ["/nonadiabatic/loss"]),
                                     ("wrong shape", reshape_m, ["/nonadiabatic/m", "shape"]),
                                     ("status outside the table", bad_status, ["99"])):
            with self.subTest(damage=name):
                damaged = os.path.join(self.tmp, "damaged.h5")
                shutil.copy(theory[1], damaged)
                try:
                    with h5py.File(damaged, "a") as f:
                        damage(f)
                    self.assert_merge_refused([theory[0], damaged, theory[2]], [damaged, *tokens])
                finally:
                    os.remove(damaged)

    def owned(self, path):
        with h5py.File(path, "r") as f:
            return {p: f[p]["owned"][()].astype(bool) for p in protocol_groups(f)}

    def test_a_missing_shard_is_refused_and_its_points_named(self):
        theory = self.shards["theory"]
        absent = self.owned(theory[2])
        with h5py.File(self.single, "r") as f:
            depths, sigma = f["depth"][()], f["nonadiabatic/sigma"][()]
        line = self.assert_merge_refused(theory[:2], ["missing"])
        count = sum(int(o.sum()) for o in absent.values())
        self.assertTrue(contains_token(line, f"{count} points") or contains_token(line, str(count)),
                        f"{line!r} does not count the {count} missing points")
        named = re.findall(r"(nonadiabatic|adiabatic_up|adiabatic_down) depth=(\d+) run=(\d+) "
                           r"sigma=([0-9.eE+-]+)", line)
        self.assertTrue(named, f"{line!r} names no missing point")
        for protocol, depth, run, value in named:
            d = int(np.flatnonzero(depths == int(depth))[0])
            s = int(np.argmin(np.abs(sigma - float(value))))
            self.assertAlmostEqual(sigma[s], float(value), delta=1e-5 * sigma[s])
            self.assertTrue(absent[protocol][d, int(run), s],
                            f"{protocol} depth={depth} run={run} sigma={value} is not missing")

    def test_allow_partial_writes_the_present_points_and_marks_the_missing_ones(self):
        for key, missing_index in (("theory", 2), ("theory7", 3)):
            with self.subTest(shards=len(self.shards[key]), missing=missing_index):
                files = [p for k, p in enumerate(self.shards[key]) if k != missing_index]
                absent = self.owned(self.shards[key][missing_index])
                out = os.path.join(self.tmp, f"partial-{key}.h5")
                result = run_cdl("merge", [out, *files, "--allow-partial"], self.tmp)
                self.assertEqual(result.returncode, 0, result.stderr)
                try:
                    merged, single = datasets(out), datasets(self.single)
                    self.assertEqual(sorted(merged), sorted(single))
                    for protocol, missing in absent.items():
                        status = merged[f"{protocol}/status"]
                        np.testing.assert_array_equal(status[missing], STATUS_NOT_RUN)
                        self.assertTrue(np.all(np.isnan(merged[f"{protocol}/order_parameter"][missing])))
                        for name in merged:
                            group, _, leaf = name.rpartition("/")
                            if group != protocol or leaf in SCALES:
                                continue
                            with self.subTest(dataset=name):
                                self.assertTrue(np.array_equal(
                                    merged[name][~missing], single[name][~missing],
                                    equal_nan=merged[name].dtype.kind == "f"), f"{name} differs")
                    # The quenched inputs of every realization with a point present (any
                    # protocol), equal to the single run's; NaN for the others.
                    present = np.zeros(single["disorder"].shape[:2], bool)
                    for missing in absent.values():
                        present |= ~missing.all(axis=-1)
                    for name in ("disorder", "initial_state"):
                        with self.subTest(dataset=name):
                            written = ~np.all(np.isnan(merged[name]), axis=-1)
                            lost = present & ~written
                            self.assertFalse(lost.any(),
                                             f"{name} is NaN for the realizations (depth index, run) "
                                             f"{np.argwhere(lost).tolist()}, whose points are present")
                            np.testing.assert_array_equal(merged[name][written],
                                                          single[name][written])
                            self.assertFalse(np.any(written & ~present))
                finally:
                    os.remove(out)

    def test_a_shard_given_twice_is_refused(self):
        theory = self.shards["theory"]
        self.assert_merge_refused([theory[0], *theory], ["several shards"])
        self.assert_merge_refused([*theory, theory[2]], ["several shards"])
        self.assert_merge_refused([theory[0], *theory], ["several shards"], ["--allow-partial"])

    def test_an_existing_output_needs_overwrite(self):
        out = os.path.join(self.tmp, "merged.h5")
        existing = b"an earlier merge\x00\x01\n"
        Path(out).write_bytes(existing)
        os.utime(out, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
        try:
            before = snapshot(self.tmp)
            line = self.one_line(run_cdl("merge", [out, *self.shards["theory"]], self.tmp))
            self.assertIn(out, line)
            self.assertIn("overwrite", line)
            self.assertEqual(snapshot(self.tmp), before)
            result = run_cdl("merge", [out, *self.shards["theory"], "--overwrite"], self.tmp)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assert_same_file(out, self.single)
        finally:
            os.remove(out)


# ---------------------------------------------------------------------- job options


class JobBadInputTest(ClusterTestCase):

    CASES = [
        ("index equal to the count", ["--task-index", "3", "--task-count", "3"], "--task-index", "3"),
        ("negative index", ["--task-index", "-1", "--task-count", "2"], "--task-index", "-1"),
        ("no shard", ["--task-count", "0"], "--task-count", "0"),
        ("resume and overwrite", ["--resume", "--overwrite"], "--resume", None),
    ]

    def test_bad_shard_options_exit_2_with_one_line_and_write_nothing(self):
        for subcommand in ("theory", "micro"):
            for existing_output in (False, True):
                for name, args, option, value in self.CASES:
                    with self.subTest(subcommand=subcommand, case=name,
                                      existing_output=existing_output), \
                            tempfile.TemporaryDirectory() as tmp:
                        out = os.path.join(tmp, "out.h5")
                        args = [*TINY[subcommand], *args]
                        if existing_output:
                            Path(out).write_bytes(b"precious bytes, not HDF5\n")
                            os.utime(out, ns=(1_000_000_000_000_000_000,) * 2)
                            if "--overwrite" not in args:
                                args.append("--overwrite")
                        before = snapshot(tmp)
                        line = self.one_line(run_cdl(subcommand, [*args, "--output", out], tmp))
                        self.assertIn(option, line)
                        if value is not None:
                            self.assertTrue(contains_token(line, value), f"{line!r} lacks {value!r}")
                        else:
                            self.assertIn("--overwrite", line)
                        self.assertEqual(snapshot(tmp), before, "the directory changed")

    def test_resume_of_a_partial_file_of_another_configuration_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            part = out + ".part"
            process = start_cdl("theory", [*THEORY_SLOW, "--output", out], tmp)
            try:
                self.wait_for_file(part, process)
                time.sleep(0.3)
                process.send_signal(signal.SIGTERM)
                _, stderr = process.communicate(timeout=120)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self.assertEqual(process.returncode, 3, stderr)
            before = snapshot(tmp)
            line = self.one_line(run_cdl("theory", [*THEORY_SLOW, "--seed", "2", "--resume",
                                                    "--output", out], tmp))
            self.assertIn("--resume", line)
            self.assertIn(part, line)
            self.assertEqual(snapshot(tmp), before, "the partial file was touched")

    def test_resume_of_a_complete_file(self):
        for subcommand in ("theory", "micro"):
            with self.subTest(subcommand=subcommand), tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.h5")
                self.run_ok(subcommand, [*TINY[subcommand], "--output", out], tmp)
                os.utime(out, ns=(1_000_000_000_000_000_000,) * 2)
                before = snapshot(tmp)
                # Another configuration: refused.
                line = self.one_line(run_cdl(subcommand, [*TINY[subcommand], "--seed", "2",
                                                          "--resume", "--output", out], tmp))
                self.assertIn("--resume", line)
                self.assertEqual(snapshot(tmp), before)
                # The same: nothing to do, the summary only.
                result = self.run_ok(subcommand, [*TINY[subcommand], "--resume", "--output", out],
                                     tmp)
                self.assertTrue(result.stdout.strip(), "no summary printed")
                self.assertEqual(snapshot(tmp), before)


# ---------------------------------------------------------------------- kill and resume


class KillResumeTest(ClusterTestCase):
    """Each sweep is computed once without interruption (the reference); interrupted runs and
    their resumptions must end with the same file."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.reference, cls.duration = {}, {}
        for subcommand, args in SLOW.items():
            out = os.path.join(cls._tmp.name, f"{subcommand}.h5")
            begin = time.monotonic()
            result = run_cdl(subcommand, [*args, "--output", out], cls._tmp.name)
            cls.duration[subcommand] = time.monotonic() - begin
            assert result.returncode == 0, result.stderr
            cls.reference[subcommand] = out

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def interrupt(self, subcommand, args, cwd, sig, delay, wait_for=None):
        """Starts cdl, sends `sig` after `delay` seconds (counted from when `wait_for` exists, if
        given), returns (exit code, stderr)."""
        process = start_cdl(subcommand, args, cwd)
        try:
            begin = time.monotonic()
            if wait_for is not None:
                self.wait_for_file(wait_for, process, poll=0.0005)
                begin = time.monotonic()
            remaining = delay - (time.monotonic() - begin)
            if remaining > 0:
                time.sleep(remaining)
            if process.poll() is None:
                process.send_signal(sig)
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        return process.returncode, stderr

    def assert_valid_partial(self, subcommand, out, cwd):
        """OUTPUT.part (and not OUTPUT) exists, h5py and `cdl info` read it, and every point it
        marks finished holds the reference's values."""
        part = out + ".part"
        self.assertFalse(os.path.exists(out), "an interrupted run left the final name")
        self.assertTrue(os.path.exists(part), "no partial file")
        info = self.assert_info_counts(part, cwd)
        self.assertTrue(info["complete"])
        text = self.run_ok("info", [part], cwd).stdout
        self.assertLessEqual(len(text.splitlines()), 10, text)
        reference = self.reference[subcommand]
        # Its own subtest, so that the resumption is still run and compared when this fails.
        with self.subTest(check="finished points of the partial file hold their final values"), \
                h5py.File(part, "r") as f, h5py.File(reference, "r") as r:
            for protocol in protocol_groups(r):
                status = f[protocol]["status"][()]
                finished = status != STATUS_NOT_RUN
                np.testing.assert_array_equal(status[finished], r[protocol]["status"][()][finished])
                for name in r[protocol]:
                    ours, theirs = f[protocol][name][()], r[protocol][name][()]
                    if name in SCALES:
                        np.testing.assert_array_equal(ours, theirs, name)
                    elif ours.shape[:3] == status.shape:
                        a, b = ours[finished], theirs[finished]
                        same = a == b
                        if a.dtype.kind == "f":
                            same |= np.isnan(a) & np.isnan(b)
                        same = same.reshape(len(same), int(np.prod(same.shape[1:]))).all(axis=1)
                        bad = [tuple(int(i) for i in p) for p in np.argwhere(finished)[~same]]
                        self.assertFalse(bad, f"{protocol}/{name}: {len(bad)} point(s) with status "
                                         f"{[int(status[p]) for p in bad[:3]]} (finished) differ "
                                         f"from the uninterrupted run, e.g. [depth, run, sigma] "
                                         f"{bad[:3]}: {[ours[p].ravel()[:3].tolist() for p in bad[:3]]}"
                                         f" instead of {[theirs[p].ravel()[:3].tolist() for p in bad[:3]]}")
            # A realization's quenched inputs [depth, run, unit] are written before its first
            # point's status, so they are final once any of its points is finished. The row of a
            # realization with no finished point may be torn (the kernel stops a write at a page
            # boundary when SIGKILL arrives); resumption writes it again. Per-run values
            # [depth, run] are single numbers: final once written.
            finished_realization = np.zeros(r["depth"].shape + r["run"].shape, dtype=bool)
            for protocol in protocol_groups(r):
                finished_realization |= (f[protocol]["status"][()] != STATUS_NOT_RUN).any(axis=2)
            for name in r:
                if isinstance(r[name], h5py.Dataset) and name not in SCALES:
                    ours, theirs = f[name][()], r[name][()]
                    final = finished_realization if ours.ndim == 3 else ~np.isnan(ours)
                    np.testing.assert_array_equal(ours[final], theirs[final], name)

    def resume(self, subcommand, out, cwd):
        result = run_cdl(subcommand, [*SLOW[subcommand], "--resume", "--output", out], cwd)
        self.assertEqual(result.returncode, 0,
                         f"cdl {subcommand} --resume after an interruption failed "
                         f"(exit {result.returncode}): {result.stderr!r}")
        self.assertFalse(os.path.exists(out + ".part"))
        return result

    def check_kill_and_resume(self, subcommand, sig, fractions, kill_resume=()):
        """For each fraction f: interrupt the sweep with `sig` at f times the reference's run time,
        resume (for the fractions in `kill_resume`, kill the first resumption too) and compare."""
        expected = 3 if sig == signal.SIGTERM else -signal.SIGKILL
        for k, fraction in enumerate(fractions):
            delay = fraction * self.duration[subcommand]
            with self.subTest(subcommand=subcommand, signal=sig.name, delay=round(delay, 3)), \
                    tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.h5")
                for _ in range(4):
                    code, stderr = self.interrupt(subcommand, [*SLOW[subcommand], "--output", out],
                                                  tmp, sig, delay)
                    if code != 0 and not os.path.exists(out):
                        break
                    # Finished before the signal (the machine is faster now than when the
                    # reference was timed), or SIGKILL arrived after the final rename, while
                    # the process was ending (nothing lost: the file is whole): try again
                    # earlier.
                    if os.path.exists(out):
                        os.remove(out)
                    delay /= 2
                self.assertEqual(code, expected, f"stderr: {stderr!r}")
                if sig == signal.SIGTERM:
                    self.assertIn("--resume", stderr)
                self.assert_valid_partial(subcommand, out, tmp)
                if k in kill_resume:
                    code, stderr = self.interrupt(
                        subcommand, [*SLOW[subcommand], "--resume", "--output", out], tmp,
                        signal.SIGKILL, 0.3 * (1 - fraction) * self.duration[subcommand])
                    self.assertIn(code, (0, -signal.SIGKILL), f"stderr: {stderr!r}")
                    if code != 0:
                        self.assert_valid_partial(subcommand, out, tmp)
                if os.path.exists(out + ".part"):
                    self.resume(subcommand, out, tmp)
                self.assertEqual(sorted(os.listdir(tmp)), ["out.h5"])
                self.assert_same_file(out, self.reference[subcommand])

    def test_theory_sigterm_then_resume(self):
        rng = random.Random(20241123)
        self.check_kill_and_resume("theory", signal.SIGTERM, [rng.uniform(0.1, 0.6) for _ in range(3)])

    def test_theory_sigkill_then_resume(self):
        rng = random.Random(20241124)
        self.check_kill_and_resume("theory", signal.SIGKILL, [rng.uniform(0.1, 0.6) for _ in range(3)],
                                   kill_resume={1})

    def test_micro_sigterm_and_sigkill_then_resume(self):
        rng = random.Random(20241125)
        self.check_kill_and_resume("micro", signal.SIGTERM, [rng.uniform(0.1, 0.6)])
        self.check_kill_and_resume("micro", signal.SIGKILL, [rng.uniform(0.1, 0.6)], kill_resume={0})

    def test_resume_refuses_a_part_it_cannot_read_and_keeps_it(self):
        # A .part holding finished points, cut to 99 %, and a text file in its place: --resume
        # must refuse (code 2, one line naming the file) and leave the bytes as they were.
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            part = out + ".part"
            # The run's duration was measured once; under a changing load it may finish before
            # 40 % of it has passed, so sooner signals are tried before giving up.
            for fraction in (0.4, 0.2, 0.1, 0.05):
                code, stderr = self.interrupt("theory", [*SLOW["theory"], "--output", out,
                                                         "--overwrite"], tmp,
                                              signal.SIGTERM, fraction * self.duration["theory"])
                if code != 0:
                    break
                os.remove(out)
            self.assertEqual(code, 3, stderr)
            whole = Path(part).read_bytes()
            for name, damaged in (("cut to 99 %", whole[:len(whole) * 99 // 100]),
                                  ("a text file", b"not an HDF5 file\n")):
                with self.subTest(part=name):
                    Path(part).write_bytes(damaged)
                    result = run_cdl("theory", [*SLOW["theory"], "--resume", "--output", out], tmp)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    line = self.one_line(result)
                    self.assertIn(part, line)
                    self.assertIn("--overwrite", line)
                    self.assertEqual(Path(part).read_bytes(), damaged)
                    self.assertEqual(sorted(os.listdir(tmp)), ["out.h5.part"])

    def test_kill_9_while_the_file_is_created_then_resume(self):
        # Killed before the file exists, while its layout is written, or just after: --resume
        # must finish the sweep in every case (not ask the user to remove the file).
        slow = SLOW["theory"]
        for name, delay, after_part in (("0.05 s after the start", 0.05, False),
                                        ("as soon as OUTPUT.part exists", 0.0, True)):
            with self.subTest(moment=name), tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.h5")
                part = out + ".part"
                code, stderr = self.interrupt("theory", [*slow, "--output", out], tmp,
                                              signal.SIGKILL, delay, part if after_part else None)
                self.assertEqual(code, -signal.SIGKILL, stderr)
                size = os.path.getsize(part) if os.path.exists(part) else None
                result = run_cdl("theory", [*slow, "--resume", "--output", out], tmp)
                self.assertEqual(result.returncode, 0,
                                 f"--resume after kill -9 {name} (OUTPUT.part: "
                                 f"{'absent' if size is None else f'{size} bytes'}) exited "
                                 f"{result.returncode}: {result.stderr!r}")
                self.assertEqual(sorted(os.listdir(tmp)), ["out.h5"])
                self.assert_same_file(out, self.reference["theory"])


# ---------------------------------------------------------------------- cdl info


class InfoTest(ClusterTestCase):

    def test_hostile_files_are_refused_by_info_and_analyze(self):
        # Only the root attributes; a subcommand that is not text; a status outside the table.
        with tempfile.TemporaryDirectory() as tmp:
            with h5py.File(os.path.join(tmp, "rootonly.h5"), "w") as f:
                f.attrs["subcommand"], f.attrs["config"] = "theory", "[theory]\n"
                f.attrs["cdl_version"] = "0.1.0"
            with h5py.File(os.path.join(tmp, "nottext.h5"), "w") as f:
                f.attrs["subcommand"], f.attrs["config"] = np.int64(3), "[theory]\n"
            out = os.path.join(tmp, "sweep.h5")
            self.run_ok("theory", [*THEORY_TINY, "--output", out], tmp)
            with h5py.File(out, "a") as f:
                status = f["nonadiabatic/status"][()]
                status.flat[0] = 99
                f["nonadiabatic/status"][...] = status
            for name, token in (("rootonly.h5", "has no dataset /depth"),
                                ("nottext.h5", "not text"), ("sweep.h5", "99")):
                for command in ("info", "analyze"):
                    with self.subTest(file=name, command=command):
                        line = self.one_line(run_cdl(command, [os.path.join(tmp, name)], tmp))
                        self.assertIn(name, line)
                        self.assertIn(token, line)

    def check_text(self, path, cwd, subcommand):
        result = self.run_ok("info", [path], cwd)
        lines = result.stdout.splitlines()
        self.assertLessEqual(len(lines), 10, result.stdout)
        self.assertEqual(result.stderr, "")
        self.assertIn(f"cdl {subcommand}", lines[0])
        with h5py.File(path, "r") as f:
            depths = " ".join(str(d) for d in f["depth"][()])
            runs = len(f["run"][()])
            grid = [l for l in lines if "grid" in l]
            self.assertEqual(len(grid), 1, result.stdout)
            self.assertIn(f"depths {depths}", grid[0])
            self.assertIn(f"{runs} realizations", grid[0])
            for protocol in protocol_groups(f):
                g = f[protocol]
                status = g["status"][()]
                owned = g["owned"][()].astype(bool) if "owned" in g else np.ones(status.shape, bool)
                self.assertIn(f"{len(g['sigma'][()])} couplings", grid[0])
                matches = [re.match(rf"\s*{protocol}: (\d+) done, (\d+) failed"
                                    rf"(?: \(([^)]*)\))?, (\d+) missing", l) for l in lines]
                matches = [m for m in matches if m]
                self.assertEqual(len(matches), 1, result.stdout)
                done, failed, reasons, missing = matches[0].groups()
                self.assertEqual([int(done), int(failed), int(missing)],
                                 [int(np.sum((status == 0) & owned)),
                                  int(np.sum((status >= 2) & owned)),
                                  int(np.sum((status == 1) & owned))], protocol)
                # The failures broken down by status name.
                names = g["status"].attrs["flag_meanings"].split()
                expected = {names[c]: int(np.sum((status == c) & owned))
                            for c in range(2, len(names)) if np.any((status == c) & owned)}
                found = {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", reasons or "")}
                self.assertEqual(found, expected, protocol)
        return result.stdout

    def test_info_of_a_theory_file_with_failures(self):
        with tempfile.TemporaryDirectory() as tmp:
            # The second realization has a huge disorder value: its integrations fail.
            normal = " ".join(["0.5"] * 20)
            huge = " ".join(["0.5"] * 7 + ["1e200"] + ["0.5"] * 12)
            disorder = Path(tmp) / "disorder.txt"
            disorder.write_text("\n".join([normal, huge, normal]) + "\n")
            out = os.path.join(tmp, "out.h5")
            self.run_ok("theory", [*THEORY_TINY, "--disorder", f"file:{disorder}", "--output", out],
                        tmp)
            self.check_text(out, tmp, "theory")
            info = self.assert_info_counts(out, tmp)
            self.assertTrue(info["complete"])
            self.assertEqual((info["shard_index"], info["shard_count"]), (0, 1))
            self.assertGreater(sum(p["failed"] for p in info["protocols"].values()), 0)
            self.assertGreater(sum(p["done"] for p in info["protocols"].values()), 0)

    def test_info_of_shards(self):
        for subcommand in ("theory", "micro"):
            with self.subTest(subcommand=subcommand), tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.h5")
                self.run_ok(subcommand, [*TINY[subcommand], "--task-index", "1", "--task-count",
                                         "3", "--output", out], tmp)
                shard = shard_path(out, 1, 3)
                text = self.check_text(shard, tmp, subcommand)
                self.assertIn("shard 1 of 3", text)
                info = self.assert_info_counts(shard, tmp)
                self.assertEqual((info["shard_index"], info["shard_count"]), (1, 3))
                self.assertTrue(all(p["owned"] is not None for p in info["protocols"].values()))
                self.assertEqual(sum(p["not_run"] for p in info["protocols"].values()), 0)

    def test_info_of_a_micro_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            self.run_ok("micro", [*MICRO_TINY, "--output", out], tmp)
            self.check_text(out, tmp, "micro")
            info = self.assert_info_counts(out, tmp)
            self.assertEqual(sorted(info["protocols"]), ["adiabatic_up", "nonadiabatic"])

    def test_info_refuses_files_that_are_not_cdl_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            plain = os.path.join(tmp, "plain.h5")
            with h5py.File(plain, "w") as f:
                f["x"] = np.arange(3)
            text = os.path.join(tmp, "notes.txt")
            Path(text).write_text("not HDF5\n")
            for path in (plain, text, os.path.join(tmp, "nonexistent.h5")):
                for extra in ([], ["--json"]):
                    with self.subTest(file=os.path.basename(path), options=extra):
                        line = self.one_line(run_cdl("info", [path, *extra], tmp))
                        self.assertIn(path, line)


class ArrayStandingTest(ClusterTestCase):
    """A shard's own summary and `cdl info` over the shards of an array not merged yet."""

    def owned_counts(self, path):
        """(done, failed, missing, other shards' points) of a shard file, from its datasets."""
        done = failed = missing = others = 0
        with h5py.File(path, "r") as f:
            for protocol in protocol_groups(f):
                status = f[protocol]["status"][()]
                owned = f[protocol]["owned"][()].astype(bool)
                done += int(np.sum((status == 0) & owned))
                failed += int(np.sum((status >= 2) & owned))
                missing += int(np.sum((status == STATUS_NOT_RUN) & owned))
                others += int(np.sum(~owned))
        return done, failed, missing, others

    def test_a_shard_summary_counts_its_own_points_and_names_the_others(self):
        for subcommand, label in (("theory", "integrations"), ("micro", "points")):
            with self.subTest(subcommand=subcommand), tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.h5")
                result = self.run_ok(subcommand, [*TINY[subcommand], "--task-index", "1",
                                                  "--task-count", "3", "--output", out], tmp)
                lines = [l for l in result.stdout.splitlines() if l.startswith(label + ":")]
                self.assertEqual(len(lines), 1, result.stdout)
                done, failed, missing, others = self.owned_counts(shard_path(out, 1, 3))
                self.assertGreater(others, 0)
                self.assertEqual(missing, 0)
                self.assertEqual(lines[0], f"{label}: {done} done, {failed} failed; {others} are "
                                           "other shards' points (this is shard 1 of 3)")

    def make_array(self, tmp):
        """Shards of a 4-shard theory array: 0 complete, 1 unfinished (a .part with points
        still to do), 2 without a file, 3 complete. Returns OUTPUT and the shard paths."""
        out = os.path.join(tmp, "out.h5")
        for index in (0, 1, 3):
            self.run_ok("theory", [*THEORY_TINY, "--task-index", str(index), "--task-count", "4",
                                   "--output", out], tmp)
        paths = [shard_path(out, i, 4) for i in range(4)]
        os.rename(paths[1], paths[1] + ".part")
        with h5py.File(paths[1] + ".part", "r+") as f:  # three of its points not computed yet
            g = f["nonadiabatic"]
            status, owned = g["status"][()], g["owned"][()].astype(bool)
            status[tuple(np.argwhere(owned)[:3].T)] = STATUS_NOT_RUN
            g["status"][...] = status
        return out, paths

    def test_info_of_an_output_whose_shards_are_not_merged(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, paths = self.make_array(tmp)
            counts = {i: self.owned_counts(p) for i, p in enumerate(paths) if os.path.exists(p)}
            counts[1] = self.owned_counts(paths[1] + ".part")
            self.assertEqual(counts[1][2], 3)
            grid = sum(counts[0][:4])
            result = self.run_ok("info", ["out.h5"], tmp)
            lines = result.stdout.splitlines()
            self.assertEqual(lines[0], "out.h5: not merged yet; the 4 shards of its array")

            def row(i, state, path):
                d, f, m, _ = counts[i]
                return f"  shard {i} of 4: {d} done, {f} failed, {m} missing of {d + f + m}, " \
                       f"{state} ({path})"
            self.assertEqual(lines[1], row(0, "complete", "out.shard-0-of-4.h5"))
            self.assertEqual(lines[2], row(1, "unfinished", "out.shard-1-of-4.h5.part"))
            self.assertEqual(lines[3], "  shard 2 of 4: no file yet")
            self.assertEqual(lines[4], row(3, "complete", "out.shard-3-of-4.h5"))
            done = sum(c[0] for c in counts.values())
            failed = sum(c[1] for c in counts.values())
            self.assertEqual(lines[5], f"  total: {done} done, {failed} failed, "
                                       f"{grid - done - failed} missing of {grid} points")
            self.assertEqual(len(lines), 6)

            info = json.loads(self.run_ok("info", ["out.h5", "--json"], tmp).stdout)
            self.assertEqual((info["merged"], info["shard_count"]), (False, 4))
            self.assertEqual([s["state"] for s in info["shards"]],
                             ["complete", "unfinished", "no file yet", "complete"])
            self.assertEqual(info["shards"][1]["missing"], 3)
            self.assertEqual(info["total"], {"points": grid, "done": done, "failed": failed,
                                             "missing": grid - done - failed})

            # The shard files named one by one: only those, and the total over them.
            named = self.run_ok("info", [paths[3], paths[1] + ".part"], tmp).stdout.splitlines()
            self.assertEqual(named[0], "2 shard files of one array")
            self.assertTrue(named[1].startswith("  shard 1 of 4: "), named)
            self.assertTrue(named[2].startswith("  shard 3 of 4: "), named)
            self.assertEqual(named[3], f"  total: {counts[1][0] + counts[3][0]} done, 0 failed, "
                                       "3 missing over these 2 of 4 shards")

    def test_info_names_shards_it_cannot_count(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, paths = self.make_array(tmp)
            Path(paths[2] + ".part").write_text("damaged\n")
            # Shard 3 of another sweep: merge would refuse it, so it is not counted.
            os.remove(paths[3])
            self.run_ok("theory", [*THEORY_TINY, "--seed", "7", "--task-index", "3",
                                   "--task-count", "4", "--output", out], tmp)
            lines = self.run_ok("info", ["out.h5"], tmp).stdout.splitlines()
            self.assertTrue(lines[3].startswith("  shard 2 of 4: unreadable, "), lines[3])
            self.assertIn("out.shard-2-of-4.h5.part", lines[3])
            self.assertEqual(lines[4], "  shard 3 of 4: not of this array: written by another "
                                       "configuration than shard 0 (cdl merge refuses it)")

    def test_info_reads_the_shard_a_running_task_writes(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            args = [*THEORY_SLOW, "--task-index", "0", "--task-count", "2", "--output", out]
            writer = start_cdl("theory", args, tmp)
            self.addCleanup(writer.stderr.close)
            self.addCleanup(writer.wait)
            self.addCleanup(writer.kill)
            part = shard_path(out, 0, 2) + ".part"
            deadline = time.time() + 30
            while not os.path.exists(part) and time.time() < deadline:
                time.sleep(0.02)
            result = run_cdl("info", ["out.h5"], tmp)
            self.assertIsNone(writer.poll(), "the task ended before info read its file")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertRegex(result.stdout.splitlines()[1],
                             r"^  shard 0 of 2: \d+ done, 0 failed, \d+ missing of \d+, "
                             r"unfinished \(out.shard-0-of-2.h5.part\)$")


if __name__ == "__main__":
    unittest.main()
