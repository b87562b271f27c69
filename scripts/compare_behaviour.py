#!/usr/bin/python3
"""Runs the README's examples and every preset with two `cdl` binaries and compares what they
print and write: a refactoring must leave both unchanged.

    /usr/bin/python3 scripts/compare_behaviour.py --reference REF/build/cdl --candidate build/cdl

Each case runs in a fresh directory of its own (with `configs` linked to the repository's and an
empty `data/`), once per binary. Compared: the exit code, stdout and stderr byte for byte (where
a case prints a measured time, those numbers are masked, and the case says so; the progress
lines on stderr, printed at wall-clock intervals, are left out, and the time stamp `created`
is masked where `cdl info` prints it), and every HDF5
file the case leaves behind: the same groups, datasets and attributes; datasets with equal dtype,
shape and values (NaN equal to NaN); attributes equal, object references compared by the path
they name. The provenance attribute `created` (the wall-clock time) is the one thing ignored.

Presets that run for minutes (paper-fig3 on MNIST, horizons-paper, micro-schemes) run
shortened with options that cut their steps or couplings; presets whose data cannot be had
without the network (CIFAR-10) are reported as skipped. Exit 0 when every case is equal,
1 otherwise; --only NAME runs the cases whose name contains NAME; --list prints them.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
IGNORED_ATTRIBUTES = {"created"}
# "~1.2 s", "12.3 s", "0:12" and the like in a dry run's time estimate.
TIME = re.compile(r"\d+(\.\d+)?(e[-+]?\d+)? ?(s|min|h|ms)\b|\d+:\d\d(:\d\d)?")
# The provenance time stamp (`created`), as `cdl info` prints it.
CREATED = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Progress lines come at wall-clock intervals, with a measured rate and ETA.
PROGRESS = re.compile(rb"^progress: .*\n", re.MULTILINE)

# (name, shell commands run in order with {cdl} the binary; needs: files the case needs in data/;
# mask: mask measured times in the printed text; fails: every command is meant to fail, where
# otherwise every command is meant to succeed). Commands are the README's, verbatim where
# they fit a scratch directory.
CASES = [
    ("readme theory default", ["{cdl} theory"], {}),
    ("readme theory paper-fig2", ["{cdl} theory --config configs/paper-fig2.ini"], {}),
    ("readme theory quick", ["{cdl} theory --config configs/quick.ini"], {}),
    ("readme theory deeper",
     ["{cdl} theory --depths 1,2,3 --runs 20 --sigma log:-1:2:40 --output data/deeper.h5"], {}),
    ("readme theory ws bimodal final states",
     ["{cdl} theory --topology ws:6:0.1 --disorder bimodal:1.5:0.5 --save-final-states"], {}),
    ("readme theory dry run",
     ["{cdl} theory --config configs/paper-fig2.ini --dry-run"], {"mask": True}),
    ("readme theory inf published", ["{cdl} theory --units inf --protocols nonadiabatic"], {}),
    ("readme theory inf D=3",
     ["{cdl} theory --units inf --depths 3 --sigma log:0.5:0.85:8 --protocols nonadiabatic"], {}),
    ("readme theory inf accuracy",
     ["{cdl} theory --units inf --accuracy 1e-4 --depths 2 --sigma 1.083"], {}),
    ("theory inf adiabatic",
     ["{cdl} theory --units inf --protocols adiabatic_up,adiabatic_down --depths 1,3 "
      "--sigma log:0:1:6 --output data/ia.h5"], {}),
    ("theory inf horizons bimodal D=4,5",
     ["{cdl} theory --units inf --depths 4,5 --gamma 0.1 --disorder bimodal:1.8:0.65 "
      "--sigma 0.59,0.75 --t-end 40 --samples 41 --horizons 5,10,40 --protocols nonadiabatic "
      "--output data/ih.h5"], {}),
    ("readme theory horizons",
     ["{cdl} theory --t-end 100 --samples 101 --horizons 10,100 --runs 5 --output data/h.h5"],
     {}),
    ("readme stationary default", ["{cdl} stationary"], {}),
    ("preset stationary-paper", ["{cdl} stationary --config configs/stationary-paper.ini"], {}),
    ("readme stationary bimodal",
     ["{cdl} stationary --depths 1,2,3 --disorder bimodal:1.5:0.5 --sigma log:-2:3:300"], {}),
    ("preset micro-quick", ["{cdl} micro --config configs/micro-quick.ini"], {}),
    ("preset micro-schemes (shortened)",
     ["{cdl} micro --config configs/micro-schemes.ini --sigma 0,2,50 --transient-steps 300 "
      "--measure-steps 300 " + f"--scheme {scheme} --output data/{scheme}.h5"
      for scheme in ("diffusion", "fedavg:10", "gossip", "easgd", "dsgd")],
     {"needs": ["mnist"]}),
    ("preset paper-fig3 (shortened)",
     ["{cdl} micro --config configs/paper-fig3.ini --sigma 0.01,10,100 --depths 0,1 "
      "--transient-steps 200 --measure-steps 200 --record-every 100"], {"needs": ["mnist"]}),
    ("preset micro-cifar10 (shortened)",
     ["{cdl} micro --config configs/micro-cifar10.ini --sigma 1 --transient-steps 50 "
      "--measure-steps 50"], {"needs": ["cifar-10-batches-bin"]}),
    ("preset horizons-paper (shortened)",
     ["{cdl} theory --config configs/horizons-paper.ini --runs 4 --output data/hp.h5"], {}),
    ("readme analyze with theory",
     ["{cdl} theory --config configs/quick.ini --output data/theory.h5",
      "{cdl} stationary --output data/stationary.h5",
      "{cdl} analyze data/theory.h5 --theory data/stationary.h5"], {}),
    ("readme analyze micro to a file",
     ["{cdl} micro --config configs/micro-quick.ini --output data/micro-quick.h5",
      "{cdl} analyze data/micro-quick.h5 --output data/micro-analysis.h5"], {}),
    ("readme shards, info and merge",
     ["{cdl} theory --config configs/paper-fig2.ini --task-count 3 --task-index 0 "
      "--output data/fig2.h5",
      "{cdl} info data/fig2.h5",
      "{cdl} theory --config configs/paper-fig2.ini --task-count 3 --task-index 1 "
      "--output data/fig2.h5",
      "{cdl} theory --config configs/paper-fig2.ini --task-count 3 --task-index 2 "
      "--output data/fig2.h5",
      "{cdl} merge data/fig2.h5 data/fig2.shard-0-of-3.h5 data/fig2.shard-1-of-3.h5 "
      "data/fig2.shard-2-of-3.h5",
      "{cdl} info data/fig2.h5",
      "{cdl} info --json data/fig2.h5"], {}),
    ("bad input", ["{cdl} theory --sigma log:1:0:x", "{cdl} micro --width -3",
                   "{cdl} stationary --depths 1,,2", "{cdl} nonsense", "{cdl} info missing.h5"],
     {"fails": True}),
    ("help texts", ["{cdl} --help", "{cdl} theory --help", "{cdl} micro --help",
                    "{cdl} stationary --help", "{cdl} analyze --help", "{cdl} merge --help",
                    "{cdl} info --help"], {}),
]


def run_case(cdl, commands, needs, workdir):
    """Runs the commands in workdir; returns [(command, exit code, stdout, stderr)]."""
    (workdir / "data").mkdir(parents=True)
    os.symlink(REPO / "configs", workdir / "configs")
    for item in needs:
        os.symlink(REPO / "data" / item, workdir / "data" / item)
    results = []
    for command in commands:
        line = command.format(cdl=cdl)
        done = subprocess.run(line, shell=True, cwd=workdir, capture_output=True)
        results.append((command, done.returncode, done.stdout, done.stderr))
    return results


def without_clock(text):
    return CREATED.sub(b"<created>", PROGRESS.sub(b"", text))


def masked(text):
    return TIME.sub("<time>", text.decode("utf-8", "replace"))


def attribute_value(owner, value):
    """An attribute comparable across files: references as the paths they name."""
    if isinstance(value, h5py.Reference):
        return ("ref", owner.file[value].name if value else None)
    if isinstance(value, np.ndarray) and (value.dtype == object or value.dtype.names):
        return tuple(attribute_value(owner, v) for v in value.ravel())
    if isinstance(value, np.void):  # a compound, e.g. REFERENCE_LIST's (dataset, index)
        return tuple(attribute_value(owner, v) for v in value.tolist())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, bytes):
        return value
    return value


def h5_contents(path):
    """{object path: (kind, dtype, shape, values, attributes)} of every object in the file."""
    contents = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attributes = {k: attribute_value(obj, obj.attrs[k]) for k in obj.attrs
                          if k not in IGNORED_ATTRIBUTES or obj.name != "/"}
            if isinstance(obj, h5py.Dataset):
                values = obj[()]
                contents[name] = ("dataset", obj.dtype.str, obj.shape,
                                  np.asarray(values).tobytes(), attributes)
            else:
                contents[name] = ("group", None, None, None, attributes)
        visit("/", f)
        f.visititems(visit)
    return contents


def compare_files(reference_dir, candidate_dir):
    differences = []
    ref_files = sorted(p.relative_to(reference_dir) for p in reference_dir.rglob("*.h5"))
    cand_files = sorted(p.relative_to(candidate_dir) for p in candidate_dir.rglob("*.h5"))
    if ref_files != cand_files:
        differences.append(f"HDF5 files differ: {ref_files} against {cand_files}")
    compared = 0
    for relative in ref_files:
        if relative not in cand_files:
            continue
        a, b = h5_contents(reference_dir / relative), h5_contents(candidate_dir / relative)
        if a.keys() != b.keys():
            differences.append(f"{relative}: objects differ: {sorted(a.keys() ^ b.keys())}")
        for name in sorted(a.keys() & b.keys()):
            if a[name] != b[name]:
                what = [f for f, x, y in zip(("kind", "dtype", "shape", "values", "attributes"),
                                             a[name], b[name]) if x != y]
                if "attributes" in what:
                    keys = set(a[name][4]) | set(b[name][4])
                    what[-1] = "attributes " + ", ".join(
                        sorted(k for k in keys if a[name][4].get(k) != b[name][4].get(k)))
                differences.append(f"{relative}:{name}: {', '.join(what)} differ")
        compared += len(a)
    return differences, len(ref_files), compared


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=False)
    parser.add_argument("--candidate", type=Path, default=REPO / "build" / "cdl")
    parser.add_argument("--only", default="")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only in c[0]]
    if args.list:
        for name, commands, _ in cases:
            print(name + ":\n  " + "\n  ".join(commands))
        return 0
    if not args.reference:
        parser.error("--reference BIN is required")
    scratch = Path(tempfile.mkdtemp(prefix="cdl-compare-"))
    failures = 0
    for index, (name, commands, options) in enumerate(cases):
        needs = options.get("needs", [])
        missing = [n for n in needs if not (REPO / "data" / n).exists()]
        if missing:
            print(f"SKIP  {name}: needs data/{', data/'.join(missing)} (not here)")
            continue
        dirs = [scratch / f"{index}-reference", scratch / f"{index}-candidate"]
        runs = [run_case(binary.resolve(), commands, needs, d)
                for binary, d in zip((args.reference, args.candidate), dirs)]
        differences = []
        for command, code, _, _ in runs[0]:
            if (code != 0) != bool(options.get("fails")):
                differences.append(f"`{command}`: the reference exits {code}: not the case meant")
        for (command, code_a, out_a, err_a), (_, code_b, out_b, err_b) in zip(*runs):
            if code_a != code_b:
                differences.append(f"`{command}`: exit {code_a} against {code_b}")
            out_a, out_b = without_clock(out_a), without_clock(out_b)
            err_a, err_b = without_clock(err_a), without_clock(err_b)
            for stream, x, y in (("stdout", out_a, out_b), ("stderr", err_a, err_b)):
                same = masked(x) == masked(y) if options.get("mask") else x == y
                if not same:
                    differences.append(f"`{command}`: {stream} differs")
        file_differences, files, objects = compare_files(*dirs)
        differences += file_differences
        printed = sum(len(r[2]) + len(r[3]) for r in runs[0])
        status = "EQUAL" if not differences else "DIFF "
        note = " (times masked)" if options.get("mask") else ""
        print(f"{status} {name}: {len(commands)} commands, {printed} bytes printed{note}, "
              f"{files} files, {objects} objects")
        for d in differences:
            print("      " + d)
        failures += bool(differences)
    if not args.keep:
        shutil.rmtree(scratch)
    else:
        print(f"scratch kept in {scratch}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
