"""Races between commands and hostile edits of cdl's own files (issue 29): every check that
decides whether a command may write is made under the output's lock; a run whose lock file is
removed still keeps a second run out; a file holding a link or a stored type other than cdl's
is refused before anything reads or writes through it; and `--dry-run` refuses what the run
refuses, with the same line.

The races are made deterministic with the test hook CDL_TEST_STOP_AT=POINT (sim/output_lock.hpp):
the first command stops itself (SIGSTOP) at POINT, the second runs to its end, then the first
is continued (SIGCONT). No sleeps."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np
from e2e_support import CDL, CdlTestCase, clean_env, datasets, require_cdl, run_cdl, snapshot

TH = ["--units", "20", "--runs", "2", "--depths", "0,1", "--sigma", "log:-1:1:4", "--samples",
      "20", "--quiet"]
MICRO = ["--units", "3", "--runs", "2", "--depths", "0,1", "--sigma", "0,1", "--transient-steps",
         "10", "--measure-steps", "10", "--record-every", "5", "--data", "synthetic:4:3",
         "--train-size", "20", "--test-size", "10", "--batch", "10", "--quiet"]


def setUpModule():
    require_cdl()


class RaceTest(CdlTestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.stopped = []

    def tearDown(self):
        for process in self.stopped:  # a failed test leaves no stopped process behind
            if process.poll() is None:
                process.kill()
            process.communicate()
        shutil.rmtree(self.dir)

    # ------------------------------------------------------------------ helpers

    def stop_at(self, point, subcommand, args):
        """`cdl SUBCOMMAND ARGS` started with CDL_TEST_STOP_AT=POINT, once it has stopped there."""
        process = subprocess.Popen([str(CDL), subcommand, *args], cwd=self.dir,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   env=clean_env({"CDL_TEST_STOP_AT": point}))
        self.stopped.append(process)
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                self.fail(f"ended before {point}: {process.communicate()[1]}")
            with open(f"/proc/{process.pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                    return process
            self.assertLess(time.monotonic(), deadline, f"never stopped at {point}")
            time.sleep(0.005)

    def carry_on(self, process):
        """Continues a stopped command to its end: (exit code, stderr)."""
        os.kill(process.pid, signal.SIGCONT)
        _, stderr = process.communicate(timeout=120)
        return process.returncode, stderr

    def cdl(self, subcommand, args):
        return run_cdl(subcommand, args, self.dir)

    def refused(self, result, *words):
        """Exit 2 with one line holding every word; returns the line."""
        line = self.one_line(result)
        for word in words:
            self.assertIn(word, line)
        return line

    def sweep(self, name, *extra):
        self.run_ok("theory", [*TH, *extra, "--output", name], self.dir)
        return self.dir / name

    def bytes_of(self, name):
        return (self.dir / name).read_bytes()

    # ------------------------------------------------------------------ 1. checks under the lock

    def test_two_analyses_onto_one_output(self):
        self.sweep("a.h5")
        self.sweep("b.h5", "--seed", "2")
        with self.subTest(first="holds the lock"):
            first = self.stop_at("locked", "analyze", ["a.h5", "--output", "an.h5", "--quiet"])
            self.refused(self.cdl("analyze", ["b.h5", "--output", "an.h5"]), "--output", "in use")
            self.assertEqual(self.carry_on(first)[0], 0)
            with h5py.File(self.dir / "an.h5") as f:
                self.assertEqual(f.attrs["source"], "a.h5")
        with self.subTest(first="checked, not yet locked"):
            first = self.stop_at("locking", "analyze", ["a.h5", "--output", "an2.h5", "--quiet"])
            self.run_ok("analyze", ["b.h5", "--output", "an2.h5", "--quiet"], self.dir)
            written = self.bytes_of("an2.h5")
            code, stderr = self.carry_on(first)
            self.assertEqual(code, 2, stderr)
            self.assertIn("file exists", stderr)
            self.assertEqual(self.bytes_of("an2.h5"), written)  # the second's result, intact

    def test_two_merges_onto_one_output(self):
        for index in (0, 1):
            self.run_ok("theory", [*TH, "--task-count", "2", "--task-index", str(index),
                                   "--output", "s.h5"], self.dir)
        shards = ["s.shard-0-of-2.h5", "s.shard-1-of-2.h5"]
        first = self.stop_at("locking", "merge", ["m.h5", *shards, "--quiet"])
        self.run_ok("merge", ["m.h5", *shards, "--quiet"], self.dir)
        written = self.bytes_of("m.h5")
        code, stderr = self.carry_on(first)
        self.assertEqual(code, 2, stderr)
        self.assertIn("file exists", stderr)
        self.assertEqual(self.bytes_of("m.h5"), written)
        first = self.stop_at("locked", "merge", ["m2.h5", *shards, "--quiet"])
        self.refused(self.cdl("merge", ["m2.h5", *shards]), "in use")
        self.assertEqual(self.carry_on(first)[0], 0)

    def test_two_stationary_runs_onto_one_output(self):
        args = ["--depths", "1", "--sigma", "log:-1:1:20", "--quiet", "--output", "st.h5"]
        first = self.stop_at("locking", "stationary", args)
        self.run_ok("stationary", args, self.dir)
        written = self.bytes_of("st.h5")
        code, stderr = self.carry_on(first)
        self.assertEqual(code, 2, stderr)
        self.assertIn("file exists", stderr)
        self.assertEqual(self.bytes_of("st.h5"), written)

    # ------------------------------------------------------------------ 2. in-place analysis

    def test_an_in_place_analysis_and_a_run_replacing_its_file_exclude_each_other(self):
        self.sweep("s.h5")
        before = datasets(self.dir / "s.h5")
        with self.subTest(first="analysis"):
            first = self.stop_at("locked", "analyze", ["s.h5", "--quiet"])
            self.refused(self.cdl("theory", [*TH, "--seed", "5", "--overwrite", "--output",
                                             "s.h5"]), "--output", "in use")
            self.assertEqual(self.carry_on(first)[0], 0)
            after = datasets(self.dir / "s.h5")
            self.assertIn("analysis/nonadiabatic/mean", after)
            for name, values in before.items():  # the data the analysis describes
                np.testing.assert_array_equal(after[name], values)
        with self.subTest(first="run"):
            first = self.stop_at("locked", "theory", [*TH, "--seed", "5", "--overwrite",
                                                      "--output", "s.h5"])
            self.refused(self.cdl("analyze", ["s.h5"]), "--file", "in use")
            self.assertEqual(self.carry_on(first)[0], 0)
            with h5py.File(self.dir / "s.h5") as f:
                self.assertNotIn("analysis", f)
                self.assertIn("--seed 5", f.attrs["command"])

    def test_an_in_place_analysis_of_a_file_replaced_meanwhile_writes_nothing(self):
        self.sweep("s.h5")
        self.sweep("other.h5", "--seed", "3")
        first = self.stop_at("replacing", "analyze", ["s.h5", "--quiet"])
        os.replace(self.dir / "other.h5", self.dir / "s.h5")  # by hand, not by cdl
        replaced = self.bytes_of("s.h5")
        code, stderr = self.carry_on(first)
        self.assertEqual(code, 2, stderr)
        self.assertIn("changed while it was analysed", stderr)
        self.assertEqual(stderr.count("\n"), 1, stderr)
        self.assertEqual(self.bytes_of("s.h5"), replaced)
        self.assertEqual(sorted(os.listdir(self.dir)), ["s.h5"])

    # ------------------------------------------------------------------ 3. the lock file removed

    def test_a_run_whose_lock_file_is_removed_or_replaced_keeps_a_second_run_out(self):
        for how in ("removed", "replaced"):
            with self.subTest(lock_file=how):
                out = f"{how}.h5"
                lock = self.dir / f"{out}.lock"
                first = self.stop_at("replacing", "theory", [*TH, "--output", out])
                lock.unlink()
                if how == "replaced":
                    lock.write_text("")
                for second in (["--overwrite"], ["--resume"], ["--overwrite", "--dry-run"]):
                    self.refused(self.cdl("theory", [*TH, *second, "--output", out]),
                                 "--output", "in use by another process", f"{out}.part")
                if how == "replaced":
                    lock.write_text("")  # the refused runs removed the one each had taken
                self.assertEqual(self.carry_on(first)[0], 0)
                self.run_ok("info", [out], self.dir)
                with h5py.File(self.dir / out) as f:
                    for protocol in ("nonadiabatic", "adiabatic_up"):
                        self.assertTrue((f[protocol]["status"][()] == 0).all())
                # The first run removes only its own lock file, never one that replaced it.
                self.assertEqual(lock.exists(), how == "replaced")

    # ------------------------------------------------------------------ 4. links

    def unfinished_part(self, name):
        """OUTPUT.part of a finished run that was killed before its rename, with two of its
        points marked not_run again so that --resume writes."""
        first = self.stop_at("replacing", "theory", [*TH, "--output", name])
        first.kill()
        first.wait()
        part = self.dir / f"{name}.part"
        with h5py.File(part, "r+") as f:
            f["nonadiabatic/status"][0, 0, :2] = 1
        (self.dir / f"{name[:-3]}.h5.lock").unlink(missing_ok=True)
        return part

    def test_links_inside_a_file_are_refused_and_never_written_through(self):
        self.sweep("other.h5", "--seed", "3")
        target = "/nonadiabatic/order_parameter"
        for kind in ("external", "external into itself", "soft", "dangling"):
            with self.subTest(link=kind):
                part = self.unfinished_part("s.h5")
                other = self.bytes_of("other.h5")
                with h5py.File(part, "r+") as f:
                    del f[target]
                    f[target] = {
                        "external": h5py.ExternalLink("other.h5", target),
                        "external into itself": h5py.ExternalLink("s.h5.part",
                                                                  "/adiabatic_up/order_parameter"),
                        "soft": h5py.SoftLink("/adiabatic_up/order_parameter"),
                        "dangling": h5py.SoftLink("/nowhere"),
                    }[kind]
                held = self.bytes_of("s.h5.part")
                self.refused(self.cdl("theory", [*TH, "--resume", "--output", "s.h5"]), "--resume",
                             target, "link")
                for command in (["info", "s.h5.part"], ["analyze", "s.h5.part", "--output",
                                                        "an.h5"], ["merge", "m.h5", "s.h5.part"]):
                    self.refused(self.cdl(command[0], command[1:]), "link")
                self.assertEqual(self.bytes_of("other.h5"), other)
                self.assertEqual(self.bytes_of("s.h5.part"), held)
                self.assertEqual(sorted(os.listdir(self.dir)), ["other.h5", "s.h5.part"])
                part.unlink()

    # ------------------------------------------------------------------ 5. exact types

    def retype(self, path, name, dtype):
        with h5py.File(path, "r+") as f:
            values = f[name][()]
            del f[name]
            f.create_dataset(name, data=values.astype(dtype))

    def test_stored_types_other_than_cdl_writes_are_refused(self):
        theory = self.sweep("t.h5")
        self.run_ok("micro", [*MICRO, "--output", "m.h5"], self.dir)
        micro = self.dir / "m.h5"
        cases = [
            ("theory", theory, "nonadiabatic/order_parameter", np.float32, "wrong shape or type"),
            ("theory", theory, "nonadiabatic/status", np.int16, "wrong shape or type"),
            ("theory", theory, "nonadiabatic/status", np.uint8, "wrong shape or type"),
            ("micro", micro, "nonadiabatic/accuracy", np.float32, "wrong shape or type"),
            ("micro", micro, "nonadiabatic/step", None, "differs from the file's configuration"),
        ]
        for subcommand, path, name, dtype, why in cases:
            with self.subTest(dataset=name, dtype=str(dtype)):
                edited = self.dir / f"edited-{path.name}"
                shutil.copy(path, edited)
                if dtype is None:
                    with h5py.File(edited, "r+") as f:
                        f[name][1] += 1
                else:
                    self.retype(edited, name, dtype)
                sweep = TH if subcommand == "theory" else MICRO
                before = snapshot(self.dir)
                for command, args in (("info", [edited.name]),
                                      ("analyze", [edited.name, "--output", "an.h5"]),
                                      ("merge", ["merged.h5", edited.name]),
                                      (subcommand, [*sweep, "--resume", "--output", edited.name])):
                    self.refused(self.cdl(command, args), "/" + name, why)
                self.assertEqual(snapshot(self.dir), before)
                edited.unlink()

    # ------------------------------------------------------------------ 6. FIFOs

    def test_fifos_are_refused_at_once(self):
        from test_micro_cli import write_cifar_set, write_idx_set
        self.sweep("s.h5")
        os.mkfifo(self.dir / "fifo.h5")
        os.mkfifo(self.dir / "f.h5.part")
        idx = Path(write_idx_set(self.dir / "idx"))
        images = next(p for p in idx.iterdir() if "train" in p.name and "images" in p.name)
        images.unlink()
        os.mkfifo(images)
        cifar = Path(write_cifar_set(self.dir / "cifar"))
        batch = next(p for p in sorted(cifar.rglob("*.bin")))
        batch.unlink()
        os.mkfifo(batch)
        micro = [a for a in MICRO if a not in ("--data", "synthetic:4:3")]
        idx_micro = [*micro[:micro.index("--batch")], *micro[micro.index("--batch") + 2:]]
        cases = [
            ("info", ["fifo.h5"], "--file", "not a regular file"),
            ("analyze", ["fifo.h5"], "--file", "not a regular file"),
            ("merge", ["m.h5", "fifo.h5"], "fifo.h5", "not a regular file"),
            ("theory", [*TH, "--resume", "--output", "f.h5"], "--resume", "not a regular file"),
            ("micro", [*idx_micro, "--data", f"idx:{idx}:3", "--batch", "4", "--dry-run"], "--data",
             "not a regular file"),
            ("micro", [*micro, "--data", f"cifar:{cifar}", "--dry-run"], "--data",
             "not a regular file"),
        ]
        for subcommand, args, *words in cases:
            with self.subTest(command=subcommand, args=args[-3:]):
                self.refused(run_cdl(subcommand, args, self.dir, timeout=30), *words)

    # ------------------------------------------------------------------ 7. honest dry runs

    def test_a_dry_run_refuses_what_the_run_refuses_with_the_same_line(self):
        self.sweep("exists.h5")
        (self.dir / "empty.h5").write_bytes(b"")
        (self.dir / "a-directory").mkdir()
        os.symlink("exists.h5", self.dir / "link.h5")
        np.savetxt(self.dir / "disorder#1.txt", np.zeros((1, 20)))
        self.stop_at("locked", "theory", [*TH, "--output", "busy.h5"])
        self.run_ok("theory", [*TH, "--seed", "9", "--output", "other-config.h5"], self.dir)
        micro = [*MICRO, "--output", "m.h5"]
        cases = {
            "--resume --overwrite": [*TH, "--output", "n.h5", "--resume", "--overwrite"],
            "task index outside the count": [*TH, "--output", "n.h5", "--task-index", "5",
                                             "--task-count", "2"],
            "task count 0": [*TH, "--output", "n.h5", "--task-count", "0"],
            "existing output": [*TH, "--output", "exists.h5"],
            "existing empty output": [*TH, "--output", "empty.h5"],
            "empty output path": [*TH, "--output", ""],
            "a symlink": [*TH, "--output", "link.h5", "--overwrite"],
            "a directory": [*TH, "--output", "a-directory", "--overwrite"],
            "names a directory": [*TH, "--output", "new/"],
            "a held output": [*TH, "--output", "busy.h5", "--overwrite"],
            "resume of another configuration": [*TH, "--output", "other-config.h5", "--resume"],
            "resume of an empty file": [*TH, "--output", "empty.h5", "--resume"],
            "# in a disorder file's path": [*TH, "--runs", "1", "--depths", "0", "--output",
                                            "n.h5", "--disorder", "file:disorder#1.txt"],
            "micro: existing output": ["micro", *micro[:-1], "exists.h5"],
            "micro: task count 0": ["micro", *micro, "--task-count", "0"],
            "stationary: existing output": ["stationary", "--output", "exists.h5"],
            "stationary: a symlink": ["stationary", "--output", "link.h5", "--overwrite"],
            "stationary: a held output": ["stationary", "--output", "busy.h5", "--overwrite"],
            "stationary: # in a disorder file's path": ["stationary", "--output", "n.h5",
                                                        "--disorder", "file:disorder#1.txt"],
        }
        for name, args in cases.items():
            subcommand = args[0] if args[0] in ("micro", "stationary") else "theory"
            args = args[1:] if args[0] in ("micro", "stationary") else args
            for source in ("command line", "INI file"):
                with self.subTest(case=name, options=source):
                    if source == "INI file":
                        args = self.as_ini(subcommand, args)
                    before = snapshot(self.dir)
                    dry = self.one_line(self.cdl(subcommand, [*args, "--dry-run"]))
                    self.assertEqual(snapshot(self.dir), before)
                    real = self.one_line(self.cdl(subcommand, args))
                    self.assertEqual(dry, real)
                    self.assertEqual(snapshot(self.dir), before)

    def as_ini(self, subcommand, args):
        """The options `args` as an INI file (switches stay on the command line)."""
        lines, rest, k = [f"[{subcommand}]"], [], 0
        while k < len(args):
            if k + 1 < len(args) and not args[k + 1].startswith("--") and args[k] != "--quiet":
                lines.append(f"{args[k][2:]} = {args[k + 1]}")
                k += 2
            else:
                rest.append(args[k])
                k += 1
        ini = self.dir.parent / f"{self.dir.name}-{len(lines)}-{abs(hash(tuple(args)))}.ini"
        ini.write_text("\n".join(lines) + "\n")
        self.addCleanup(ini.unlink)
        return ["--config", str(ini), *rest]


if __name__ == "__main__":
    unittest.main()
