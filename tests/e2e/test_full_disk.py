"""A full disk: every writing command ends with exit 1 and one line, never crashes, never
replaces a good earlier output and leaves no OUTPUT.part behind.

The full disk is a 200 KiB tmpfs mounted for the test, which needs root and the right to mount
(true on the project's machines; a container without CAP_SYS_ADMIN reports the test as skipped).
"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CDL = Path(os.environ.get("CDL_BIN") or REPO_ROOT / "build" / "cdl").resolve()


class FullDiskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.full = os.path.join(cls._tmp.name, "full")
        os.mkdir(cls.full)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", cls.full],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            cls._tmp.cleanup()
            raise unittest.SkipTest("cannot mount a small tmpfs here: " + mounted.stderr.strip())
        # A small sweep to merge and analyze, written on the roomy disk.
        cls.sweep = os.path.join(cls._tmp.name, "sweep.h5")
        subprocess.run([str(CDL), "theory", "--units", "20", "--runs", "3", "--sigma",
                        "log:-1:1:5", "--quiet", "--output", cls.sweep], check=True,
                       capture_output=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", cls.full], capture_output=True)
        cls._tmp.cleanup()

    def check_full_disk_failure(self, args, output, filler=0):
        for name in os.listdir(self.full):
            os.remove(os.path.join(self.full, name))
        Path(output).write_text("a good earlier result\n")
        if filler:  # for outputs that would fit: the disk is nearly full already
            Path(self.full, "filler").write_bytes(bytes(filler))
        result = subprocess.run([str(CDL), *args], cwd=self.full, capture_output=True, text=True,
                                timeout=300)
        self.assertEqual(result.returncode, 1, result.stderr)  # not a crash (negative), not 2
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(os.path.basename(output), lines[0])
        self.assertEqual(Path(output).read_text(), "a good earlier result\n")
        expected = [os.path.basename(output)] + (["filler"] if filler else [])
        self.assertEqual(sorted(os.listdir(self.full)), sorted(expected))

    def test_every_writer_fails_cleanly_on_a_full_disk(self):
        out = lambda name: os.path.join(self.full, name)  # noqa: E731
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
                self.check_full_disk_failure(args, output)
        with self.subTest(command="analyze --output"):
            self.check_full_disk_failure(["analyze", self.sweep, "--output", out("an.h5"),
                                          "--overwrite", "--quiet"], out("an.h5"), filler=190000)


if __name__ == "__main__":
    unittest.main()
