"""Hostile files: real outputs with flipped bytes or cut short at random offsets (fixed seed).
`cdl info`, `cdl analyze`, `cdl merge` and `--resume` must never crash on them (no signal, no
hang) and never exit 0 on a file whose layout is broken.

Whether a variant's layout is broken is decided independently of cdl, with h5py: the file
opens, holds every group and dataset of the intact file with the same shape and type, its
root attributes read as before, and its coordinates and status (values inside the flag
table) read. On a variant whose layout is intact any exit code but a crash is accepted: a
flipped byte in a result or in the configuration text is not a broken layout.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
from e2e_support import CDL, STATUS_NAMES

SEED = 20261128
VARIANTS = {"theory": 110, "micro": 40}
SWEEPS = {
    "theory": ["theory", "--units", "10", "--runs", "2", "--depths", "0,1", "--sigma",
               "log:-1:1:4", "--samples", "5", "--protocols", "nonadiabatic,adiabatic_up",
               "--quiet"],
    "micro": ["micro", "--units", "3", "--runs", "2", "--depths", "0,1", "--sigma", "0,1",
              "--transient-steps", "10", "--measure-steps", "10", "--record-every", "5",
              "--data", "synthetic:4:3", "--train-size", "20", "--test-size", "10", "--batch", "10", "--quiet"],
}
FLAGS = len(STATUS_NAMES)  # entries of the status flag table (done .. not_converged)
SCALES = {"depth", "run", "sigma", "time", "unit", "unit_j", "step", "horizon"}


def structure(path):
    """What a reader relies on, as read by h5py; raises on anything unreadable."""
    found = {}
    with h5py.File(path, "r") as f:
        # The texts must read; their values are content (a flipped letter in the
        # configuration), except the subcommand, which decides the layout.
        texts = {k: str(f.attrs[k]) for k in ("subcommand", "config", "cdl_version")}
        found["/"] = [texts["subcommand"], int(f.attrs["layout_complete"])]

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = [list(obj.shape), obj.dtype.kind]
                if name.split("/")[-1] in SCALES:
                    found[name + "@values"] = obj[()].tobytes().hex()
                if name.split("/")[-1] in ("status", "owned"):
                    values = obj[()]
                    limit = FLAGS if name.endswith("status") else 2
                    if values.size and (values.min() < 0 or values.max() >= limit):
                        raise ValueError(f"{name} outside its flag table")
            else:
                found[name] = "group"

        f.visititems(visit)
    return found


def layout_is_intact(path, reference):
    # In a child process: HDF5 itself (under h5py) can crash on a damaged file.
    child = subprocess.run([sys.executable, __file__, "--structure", path], capture_output=True,
                           text=True, timeout=60)
    if child.returncode != 0:
        return False  # unreadable, or crashed h5py: a broken layout either way
    found = json.loads(child.stdout)
    return all(found.get(key) == value for key, value in reference.items())


def variants(data, count, rng):
    for k in range(count):
        if k % 3 == 2:
            yield f"cut at {(cut := rng.randrange(len(data)))}", data[:cut]
        else:
            damaged = bytearray(data)
            offsets = [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))]
            for offset in offsets:
                damaged[offset] ^= 1 << rng.randrange(8)
            yield f"bits flipped at {offsets}", bytes(damaged)


def run(args, cwd):
    try:
        result = subprocess.run([str(CDL), *args], cwd=cwd, capture_output=True, text=True,
                                timeout=60)
        return result.returncode, result.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


class FuzzTest(unittest.TestCase):
    def check_variants(self, kind):
        rng = random.Random(SEED + len(kind))
        with tempfile.TemporaryDirectory() as tmp:
            original = os.path.join(tmp, "original.h5")
            subprocess.run([str(CDL), *SWEEPS[kind], "--output", original], cwd=tmp, check=True,
                           capture_output=True)
            reference = json.loads(json.dumps(structure(original)))
            data = Path(original).read_bytes()

            def one(k, name, damaged):
                work = os.path.join(tmp, f"v{k}")
                os.mkdir(work)
                Path(work, "file.h5").write_bytes(damaged)
                Path(work, "out.h5.part").write_bytes(damaged)
                intact = layout_is_intact(os.path.join(work, "file.h5"), reference)
                outcomes = {
                    "info": run(["info", "file.h5"], work),
                    "analyze": run(["analyze", "file.h5", "--output", "an.h5", "--quiet"], work),
                    "merge": run(["merge", "merged.h5", "file.h5", "--quiet"], work),
                    "--resume": run([*SWEEPS[kind], "--resume", "--output", "out.h5"], work),
                }
                shutil.rmtree(work)
                return name, intact, outcomes

            with ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(lambda v: one(*v), (
                    (k, name, damaged)
                    for k, (name, damaged) in enumerate(variants(data, VARIANTS[kind], rng)))))
        broken = 0
        for name, intact, outcomes in results:
            broken += not intact
            for command, (code, stderr) in outcomes.items():
                with self.subTest(file=kind, variant=name, command=command):
                    self.assertFalse(code == "timeout" or code < 0,
                                     f"crashed or hung ({code}): {stderr!r}")
                    if not intact:
                        self.assertNotEqual(code, 0, "exit 0 on a file whose layout is broken")
                    if code != 0:
                        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
        # The fuzzing reaches the layout, not only raw data.
        self.assertGreater(broken, len(results) // 4)

    def test_theory_files(self):
        self.check_variants("theory")

    def test_micro_files(self):
        self.check_variants("micro")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--structure"]:
        print(json.dumps(structure(sys.argv[2])))
    else:
        unittest.main()
