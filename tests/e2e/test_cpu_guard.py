"""End-to-end tests of the start-up guard (sim/cpu_guard.cpp): a binary built with -march=native
refuses, with one line on stderr and exit status 2, to run on a CPU that lacks an instruction-set
extension it was compiled for, before any other code of the program runs.

Run from the repository root with

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_cpu_guard.py

`CDL_BIN` names the executable (default: build/cdl under the repository root). A missing
extension is simulated with the guard's test hook, the environment variable
CDL_TEST_PRETEND_CPU_LACKS=feature[,feature...]. The required extensions are read from the second
line of `cdl --version`; a build without any (-DCDL_NATIVE=OFF) skips the refusal cases.
"""

import re
import tempfile
import unittest

from e2e_support import CdlTestCase, contains_token, require_cdl, run_cdl

HOOK = "CDL_TEST_PRETEND_CPU_LACKS"
# `built for: x86-64 with sse3 ssse3 ... (-march=native)`
NATIVE_LINE = re.compile(r"^built for: x86-64 with ([a-z0-9_.-]+(?: [a-z0-9_.-]+)*) "
                         r"\(-march=native\)$")
# Names __builtin_cpu_supports knows, of extensions few machines have together; the first of them
# that the binary does not require stands for "a feature it does not require".
RARE_FEATURES = ("3dnow", "xop", "fma4", "tbm", "lwp", "avx512er", "avx512pf", "avx5124fmaps",
                 "avx5124vnniw", "amx-tile", "sse4a", "avx512fp16", "avx512f")


def setUpModule():
    require_cdl()


def built_for():
    """The `built for:` line of `cdl --version` (without the hook) and the extensions it names
    as required (empty unless built with -march=native on x86-64)."""
    result = run_cdl("--version", [], env={HOOK: ""})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("built for: "), result.stdout
    match = NATIVE_LINE.match(lines[1])
    return lines[1], (match.group(1).split() if match else [])


class CpuGuardTest(CdlTestCase):

    @classmethod
    def setUpClass(cls):
        cls.line, cls.required = built_for()

    def dry_run(self, pretend):
        """`cdl theory --dry-run` in a fresh directory with the hook set to `pretend` ("" is no
        hook: it also hides a CDL_TEST_PRETEND_CPU_LACKS of the caller's environment)."""
        with tempfile.TemporaryDirectory() as tmp:
            return run_cdl("theory", ["--dry-run"], cwd=tmp, env={HOOK: pretend})

    def require_native(self):
        if not self.required:
            self.skipTest(f"this build requires no instruction-set extension to check "
                          f"(built without -march=native on x86-64: {self.line!r})")

    def assert_refused(self, result, missing):
        """Exit 2, nothing on stdout, one stderr line naming exactly the features `missing` (in
        that order) and the way out."""
        line = self.one_line(result)
        self.assertTrue(line.startswith("cdl: "), line)
        match = re.search(r"lacks (.*), which", line)
        self.assertIsNotNone(match, line)
        self.assertEqual(match.group(1).split(", "), missing, line)
        for feature in missing:
            self.assertTrue(contains_token(line, feature), line)
        self.assertIn("-DCDL_NATIVE=OFF", line)

    # ------------------------------------------------------------------ (a) refused

    def test_a_missing_feature_is_refused_with_one_line(self):
        self.require_native()
        first = self.required[0]
        self.assert_refused(self.dry_run(first), [first])

    def test_the_guard_runs_before_version(self):
        self.require_native()
        first = self.required[0]
        self.assert_refused(run_cdl("--version", [], env={HOOK: first}), [first])

    def test_every_missing_feature_is_named_in_order(self):
        self.require_native()
        pretend = [self.required[-1], self.required[0]]
        self.assert_refused(self.dry_run(",".join(pretend)),
                            sorted(set(pretend), key=self.required.index))

    # ------------------------------------------------------------------ (b) runs

    def test_runs_without_the_hook(self):
        result = self.dry_run("")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout, "the dry run printed nothing")

    def test_version_names_the_instruction_set(self):
        self.assertRegex(self.line, r"^built for: .*\((-march=native|-DCDL_NATIVE=OFF)\)$")
        if self.required:
            self.assertEqual(len(set(self.required)), len(self.required), self.line)

    # ------------------------------------------------------------------ (c) ignored

    def test_a_feature_not_required_changes_nothing(self):
        unrequired = next(f for f in RARE_FEATURES if f not in self.required)
        # `--version`: its output is the same from run to run (a dry run's timing is not).
        reference = run_cdl("--version", [], env={HOOK: ""})
        for pretend in (unrequired, "not-a-feature", f"{unrequired},,not-a-feature", ","):
            with self.subTest(pretend=pretend):
                result = run_cdl("--version", [], env={HOOK: pretend})
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual((result.stdout, result.stderr),
                                 (reference.stdout, reference.stderr))


if __name__ == "__main__":
    unittest.main()
