"""A full disk: every writing command ends with exit 1 and one line, never crashes, never
replaces a good earlier output and leaves no OUTPUT.part behind.

Two ways to run out of space, so that the suite checks this everywhere:
- a 200 KiB tmpfs mounted for the test (needs root and the right to mount; reported as
  skipped where that is missing, e.g. a container without CAP_SYS_ADMIN);
- always: a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored), under which a write past
  the limit fails with EFBIG exactly as a full disk's fails with ENOSPC.
"""

import os
import resource
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from e2e_support import CDL

GOOD = "a good earlier result\n"


class FullDiskCases:
    """The cases, for a subclass that provides `self.full` (the small disk) and
    `run_cdl(args, room)`, `room` being the bytes a file may still take."""

    @classmethod
    def make_directories(cls):
        # `roomy` has room; `full` is where the subclass makes the disk small.
        cls._tmp = tempfile.TemporaryDirectory()
        cls.roomy = cls._tmp.name
        cls.full = os.path.join(cls._tmp.name, "full")
        os.mkdir(cls.full)

    def make_sweep(self):
        # A small sweep to merge and analyze, written where there is room.
        self.sweep = os.path.join(self.roomy, "sweep.h5")
        subprocess.run([str(CDL), "theory", "--units", "20", "--runs", "3", "--sigma",
                        "log:-1:1:5", "--quiet", "--output", self.sweep], check=True,
                       capture_output=True)
        # One that fits on the small disk, to be analysed in place there.
        self.small_sweep = os.path.join(self.roomy, "small.h5")
        subprocess.run([str(CDL), "theory", "--units", "5", "--runs", "3", "--sigma", "log:-1:1:5",
                        "--samples", "5", "--quiet", "--output", self.small_sweep], check=True,
                       capture_output=True)

    def check_full_disk_failure(self, args, output, room, keep=()):
        for name in os.listdir(self.full):
            if name not in keep:
                os.remove(os.path.join(self.full, name))
        Path(output).write_text(GOOD)
        kept = {name: Path(self.full, name).read_bytes() for name in os.listdir(self.full)}
        result = self.run_cdl(args, room)
        self.assertEqual(result.returncode, 1, result.stderr)  # not a crash (negative), not 2
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(os.path.basename(output), lines[0])
        # Nothing lost, nothing left behind: exactly the files that were there, unchanged.
        self.assertEqual(sorted(os.listdir(self.full)), sorted(kept))
        for name, content in kept.items():
            self.assertEqual(Path(self.full, name).read_bytes(), content, name)

    def test_every_writer_fails_cleanly_on_a_full_disk(self):
        out = lambda name: os.path.join(self.full, name)  # noqa: E731
        room = 200 * 1024
        cases = [
            ("stationary", ["stationary", "--depths", "0,1,2,3", "--sigma", "log:-2:2:900",
                            "--quiet", "--overwrite", "--output", out("st.h5")], out("st.h5")),
            ("theory", ["theory", "--units", "200", "--runs", "20", "--quiet", "--overwrite",
                        "--output", out("th.h5")], out("th.h5")),
            ("micro", ["micro", "--quiet", "--overwrite", "--output", out("mi.h5")], out("mi.h5")),
            ("merge", ["merge", out("merged.h5"), self.sweep, "--quiet", "--overwrite"],
             out("merged.h5")),
        ]
        for name, args, output in cases:
            with self.subTest(command=name):
                self.check_full_disk_failure(args, output, room)
        # An analysis is small: only a few KiB are left.
        with self.subTest(command="analyze --output"):
            self.check_full_disk_failure(["analyze", self.sweep, "--output", out("an.h5"),
                                          "--overwrite", "--quiet"], out("an.h5"), 6 * 1024)

    def test_in_place_analysis_on_a_full_disk_keeps_the_sweep(self):
        # In place, the analysis goes into a copy of the sweep, which does not fit.
        target = os.path.join(self.full, "sweep.h5")
        for name in os.listdir(self.full):
            os.remove(os.path.join(self.full, name))
        Path(target).write_bytes(Path(self.small_sweep).read_bytes())
        before = Path(target).read_bytes()
        result = self.run_cdl(["analyze", target, "--quiet"], len(before) // 2)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn("sweep.h5", result.stderr)
        # The cause by name, not "Input/output error".
        self.assertRegex(result.stderr, "No space left on device|File too large")
        self.assertEqual(os.listdir(self.full), ["sweep.h5"])
        self.assertEqual(Path(target).read_bytes(), before)


class TmpfsFullDiskTest(FullDiskCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.make_directories()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", cls.full],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            cls._tmp.cleanup()
            raise unittest.SkipTest("cannot mount a small tmpfs here: " + mounted.stderr.strip())
        FullDiskCases.make_sweep(cls)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", cls.full], capture_output=True)
        cls._tmp.cleanup()

    def run_cdl(self, args, room):
        # The tmpfs holds 200 KiB; less room is made with a filler file.
        used = sum(os.path.getsize(os.path.join(self.full, n)) for n in os.listdir(self.full))
        if room < 200 * 1024:
            Path(self.full, "filler").write_bytes(bytes(max(0, 200 * 1024 - room - used - 4096)))
        try:
            return subprocess.run([str(CDL), *args], cwd=self.full, capture_output=True,
                                  text=True, timeout=300)
        finally:
            if os.path.exists(os.path.join(self.full, "filler")):
                os.remove(os.path.join(self.full, "filler"))


class FileSizeLimitTest(FullDiskCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.make_directories()
        FullDiskCases.make_sweep(cls)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def run_cdl(self, args, room):
        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

        return subprocess.run([str(CDL), *args], cwd=self.full, capture_output=True, text=True,
                              timeout=300, preexec_fn=limit)

