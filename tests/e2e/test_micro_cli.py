"""End-to-end tests of `cdl micro`: the command line, the exit codes and the HDF5 file it writes.

Run from the repository root with

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_micro_cli.py

`CDL_BIN` names the executable (default: build/cdl under the repository root). Every test works
in its own temporary directory and uses tiny sweeps (a few networks, a few dozen steps), so the
whole file takes a few seconds.
"""

import configparser
import itertools
import os
import re
import tempfile
import unittest
import warnings
from pathlib import Path

import h5py
import numpy as np
import xarray
from e2e_support import (STATUS_DIVERGED, STATUS_DONE, CdlTestCase, require_cdl, run_cdl,
                         snapshot, write_ini)

# Summaries [depth, run, sigma]; traces [depth, run, sigma, time] (m keeps its name, the other
# observables carry a _trace suffix); per-unit [.., unit]; unit pairs [.., unit, unit].
SUMMARY_VARIABLES = ("order_parameter", "m_abs", "loss", "loss_test", "accuracy", "accuracy_vote",
                     "consensus", "parameter_norm", "alignment", "accuracy_own", "accuracy_other",
                     "accuracy_mean_model", "loss_test_mean_model", "accuracy_center", "rank1_r2",
                     "communication",
                     "steps", "status")
TRACE_VARIABLES = ("m", "loss_trace", "loss_test_trace", "accuracy_trace", "accuracy_vote_trace",
                   "consensus_trace", "parameter_norm_trace", "alignment_trace",
                   "accuracy_own_trace", "accuracy_other_trace", "accuracy_mean_model_trace",
                   "loss_test_mean_model_trace", "accuracy_center_trace")
UNIT_VARIABLES = ("unit_accuracy",)
PAIR_VARIABLES = ("cross_accuracy",)
FLOAT_VARIABLES = tuple(n for n in (*SUMMARY_VARIABLES, *TRACE_VARIABLES, *UNIT_VARIABLES,
                                    *PAIR_VARIABLES) if n not in ("steps", "status"))
ROOT_ATTRIBUTES = ("cdl_version", "command", "config", "created", "subcommand", "task", "data")

# A tiny sweep: 4 networks on 3 synthetic classes of 5 inputs, 2 couplings, 2 depths, 40 steps
# recorded every 10 (5 samples, steps 0..40).
TINY = {"--sigma": "0,1", "--depths": "0,1", "--transient-steps": "20", "--measure-steps": "20",
        "--record-every": "10", "--train-size": "40", "--test-size": "20",
        "--data": "synthetic:5:3", "--units": "4"}
TINY_SAMPLES = 5
TINY_STEPS = [0, 10, 20, 30, 40]

# The small IDX set: 3 classes of 4x4 images, 8 training and 4 test images per class.
IDX_CLASSES, IDX_TRAIN_PER_CLASS, IDX_TEST_PER_CLASS, IDX_SIDE = 3, 8, 4, 4
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def setUpModule():
    require_cdl()


def with_tiny_defaults(args):
    """`args` plus the tiny-sweep options it does not set itself (program_options refuses an
    option given twice). Task effective takes no --data; IDX data gets a batch that fits it."""
    given = set(args)
    defaults = dict(TINY)
    if "effective" in args:
        del defaults["--data"]
    data = args[args.index("--data") + 1] if "--data" in args else ""
    if data.startswith("idx:"):
        defaults["--batch"] = "4"
    extra = [w for option, value in defaults.items() if option not in given
             for w in (option, value)]
    return [*args, *extra, "--quiet"]


def idx_bytes(magic, dims, data):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + np.asarray(data, dtype=np.uint8).tobytes()


def write_idx_set(directory, train_labels=None, test_labels=None):
    """The small valid IDX set in `directory` (created): class k has images around gray level
    40 + 80 k, labels cycle through the classes. Returns the directory as a string."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12345)

    def images_for(labels):
        noise = rng.integers(-30, 31, size=(len(labels), IDX_SIDE, IDX_SIDE))
        return np.clip(40 + 80 * np.asarray(labels)[:, None, None] + noise, 0, 255)

    if train_labels is None:
        train_labels = [k % IDX_CLASSES for k in range(IDX_CLASSES * IDX_TRAIN_PER_CLASS)]
    if test_labels is None:
        test_labels = [k % IDX_CLASSES for k in range(IDX_CLASSES * IDX_TEST_PER_CLASS)]
    for prefix, labels in (("train", train_labels), ("t10k", test_labels)):
        images = images_for(labels)
        (directory / f"{prefix}-images-idx3-ubyte").write_bytes(
            idx_bytes(0x00000803, (len(labels), IDX_SIDE, IDX_SIDE), images))
        (directory / f"{prefix}-labels-idx1-ubyte").write_bytes(
            idx_bytes(0x00000801, (len(labels),), labels))
    return str(directory)


def write_cifar_set(directory, per_class=3):
    """A small CIFAR-10 set in the exact binary format: each of the five training batches and
    the test batch holds `per_class` records of every class (label byte, then 3072 pixel bytes
    around gray level 20 + 20 k). Returns the directory as a string."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(54321)
    names = [f"data_batch_{b}.bin" for b in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        records = bytearray()
        for k in [c for _ in range(per_class) for c in range(10)]:
            pixels = np.clip(20 + 20 * k + rng.integers(-10, 11, size=3072), 0, 255)
            records += bytes([k]) + pixels.astype(np.uint8).tobytes()
        (directory / name).write_bytes(bytes(records))
    return str(directory)


def write_corrupt_idx_sets(base):
    """{name: directory} of IDX sets with one defect each."""
    base = Path(base)
    sets = {}
    # The training images end one byte short of the 24 images the header declares.
    sets["truncated"] = write_idx_set(base / "idx_truncated")
    path = Path(sets["truncated"]) / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    # 24 training images but 23 labels.
    sets["count mismatch"] = write_idx_set(base / "idx_count")
    path = Path(sets["count mismatch"]) / "train-labels-idx1-ubyte"
    labels = [k % IDX_CLASSES for k in range(IDX_CLASSES * IDX_TRAIN_PER_CLASS - 1)]
    path.write_bytes(idx_bytes(0x00000801, (len(labels),), labels))
    # A training label 5 among 3 classes.
    labels = [k % IDX_CLASSES for k in range(IDX_CLASSES * IDX_TRAIN_PER_CLASS)]
    labels[7] = 5
    sets["label out of range"] = write_idx_set(base / "idx_label", train_labels=labels)
    # No test labels.
    sets["missing file"] = write_idx_set(base / "idx_missing")
    os.remove(Path(sets["missing file"]) / "t10k-labels-idx1-ubyte")
    return sets


class MicroCliTest(CdlTestCase):

    # ------------------------------------------------------------------ bad input

    def bad_input_cases(self, tmp):
        """(name, arguments, option the message must name, acceptable value texts, cause)."""
        good = write_idx_set(Path(tmp) / "idx_good")
        corrupt = write_corrupt_idx_sets(tmp)
        return [
            ("zero width", ["--width", "0"], "--width", ["0"], None),
            ("unknown scheme", ["--scheme", "push-sum"], "--scheme", ["push-sum"], None),
            ("unknown partition", ["--partition", "labels"], "--partition", ["labels"], None),
            ("cifar without a directory", ["--data", "cifar:"], "--data", ["cifar:"], None),
            ("missing cifar directory", ["--data", "cifar:/nonexistent/cifar"], "--data",
             ["/nonexistent/cifar"], None),
            ("dropout above one", ["--dropout", "1.5"], "--dropout", ["1.5"], None),
            ("negative link failure", ["--link-failure", "-0.1"], "--link-failure", ["-0.1"],
             None),
            ("crash without its step", ["--crash", "0.5"], "--crash", ["0.5"], None),
            ("crash of no unit", ["--crash", "0:10"], "--crash", ["0:10"], None),
            ("dirichlet without alpha", ["--partition", "dirichlet"], "--partition",
             ["dirichlet"], None),
            ("partition of a regression task", ["--task", "teacher", "--partition", "iid"],
             "--partition", ["iid"], None),
            ("shards that would be empty", ["--partition", "shards:1000"], "--partition",
             ["shards:1000"], None),
            # 3 classes x 40 samples dealt to 4 units: 30 each, fewer than a batch of 32.
            ("iid share smaller than a batch", ["--partition", "iid"], "--partition", ["iid"],
             None),
            ("fedavg without its period", ["--scheme", "fedavg"], "--scheme", ["fedavg"], None),
            ("fedavg period zero", ["--scheme", "fedavg:0"], "--scheme", ["fedavg:0"], None),
            ("fedavg fraction above one", ["--scheme", "fedavg:2:1.5"], "--scheme",
             ["fedavg:2:1.5"], None),
            ("fedavg weighting misspelt", ["--scheme", "fedavg:2:1:weighted"], "--scheme",
             ["fedavg:2:1:weighted"], None),
            ("fedavg equal without C", ["--scheme", "fedavg:2:equal"], "--scheme",
             ["fedavg:2:equal"], None),
            # Horizons must be recorded steps (multiples of --record-every) up to the last step.
            ("zero horizon", ["--horizons", "0"], "--horizons", ["0"], None),
            ("horizon between records", ["--record-every", "10", "--horizons", "15"],
             "--horizons", ["15"], None),
            ("horizon after the last step", ["--horizons", "1000000"], "--horizons", ["1000000"],
             None),
            ("fractional horizon", ["--record-every", "1", "--horizons", "2.5"], "--horizons",
             ["2.5"], None),
            ("zero learning rate", ["--lr", "0"], "--lr", ["0"], None),
            ("negative learning rate", ["--lr", "-1"], "--lr", ["-1"], None),
            ("batch larger than a unit's data", ["--batch", "1000"], "--batch", ["1000"], None),
            ("zero batch", ["--batch", "0"], "--batch", ["0"], None),
            ("training set beyond its bound", ["--train-size", "1000000000"], "--train-size",
             ["1000000000"], None),
            ("inputs too wide for memory", ["--data", "synthetic:100000000:4"], "--data",
             ["synthetic:100000000:4"], None),
            ("unknown task", ["--task", "nonsense"], "--task", ["nonsense"], None),
            ("unknown activation", ["--activation", "sigmoid"], "--activation", ["sigmoid"], None),
            ("cross-entropy for a regression", ["--loss", "xent", "--task", "teacher"], "--loss",
             ["xent"], None),
            ("task effective with wide networks", ["--task", "effective", "--width", "3"],
             "--width", ["3"], None),
            ("task effective with relu", ["--task", "effective", "--activation", "relu"],
             "--activation", ["relu"], None),
            ("missing IDX directory", ["--data", "idx:/nonexistent"], "--data",
             ["/nonexistent", "idx:/nonexistent"], "not found"),
            ("synthetic data without inputs", ["--data", "synthetic:0:3"], "--data",
             ["synthetic:0:3"], None),
            ("record interval not dividing the steps", ["--record-every", "7"], "--record-every",
             ["7"], None),
            ("balanced weights on wide networks", ["--weights", "balanced", "--width", "20"],
             "--weights", ["balanced"], None),
            ("negative weight scale", ["--weights", "normal:-1"], "--weights", ["normal:-1"], None),
            ("one unit", ["--units", "1"], "--units", ["1"], None),
            ("unknown precision", ["--precision", "half"], "--precision", ["half"], None),
            ("truncated IDX images", ["--data", f"idx:{corrupt['truncated']}:3", "--units", "3"],
             "--data", [corrupt["truncated"]], "truncated"),
            ("IDX label and image counts differ",
             ["--data", f"idx:{corrupt['count mismatch']}:3", "--units", "3"], "--data",
             [corrupt["count mismatch"]], r"23 labels.*24 images"),
            ("IDX label out of range",
             ["--data", f"idx:{corrupt['label out of range']}:3", "--units", "3"], "--data",
             [corrupt["label out of range"]], r"label 5 .*out of range"),
            ("missing IDX file", ["--data", f"idx:{corrupt['missing file']}:3", "--units", "3"],
             "--data", [corrupt["missing file"]], r"t10k-labels-idx1-ubyte.*not found"),
            ("batch larger than a class's IDX images",
             ["--data", f"idx:{good}:3", "--units", "3", "--batch", "20"], "--batch", ["20"],
             r"\b8 images"),
        ]

    def test_bad_input_exits_2_with_one_line_naming_option_and_value_and_writes_nothing(self):
        self.check_bad_input("micro", self.bad_input_cases, with_tiny_defaults)

    def test_existing_output_without_overwrite_is_refused_and_left_untouched(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            existing = b"an earlier result\x00\x01\x02\n"
            Path(out).write_bytes(existing)
            os.utime(out, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
            self.assert_rejected("micro", tmp, with_tiny_defaults([]), "--output", [out], out,
                                 existing)

    # ------------------------------------------------------------------ output contract

    def assert_contract(self, out, task, data, n_depth, n_run, n_sigma, n_unit, n_classes,
                        lr=0.005, protocols=("nonadiabatic",)):
        """The layout of a finished `cdl micro` file of the tiny sweep."""
        with h5py.File(out, "r") as f:
            for name in ROOT_ATTRIBUTES:
                self.assertIn(name, f.attrs)
                self.assertIsInstance(f.attrs[name], str, name)
            self.assertEqual(f.attrs["subcommand"], "micro")
            self.assertEqual(f.attrs["task"], task)
            self.assertEqual(f.attrs["data"], data)
            config = configparser.ConfigParser()
            config.read_string(f.attrs["config"])
            self.assertIn("micro", config)
            self.assertEqual(config["micro"]["task"], task)
            self.assertEqual(config["micro"]["data"], data)
            self.assertEqual(config["micro"]["units"], str(n_unit))

            for name in ("disorder", "initial_state"):
                self.assertEqual(f[name].shape, (n_depth, n_run, n_unit), name)
            # Task classes: the disorder of unit i is its class, i mod K.
            np.testing.assert_array_equal(
                f["disorder"][()], np.broadcast_to(np.arange(n_unit) % n_classes,
                                                   (n_depth, n_run, n_unit)))

            for protocol in protocols:
                with self.subTest(protocol=protocol):
                    g = f[protocol]
                    summary = (n_depth, n_run, n_sigma)
                    for name in SUMMARY_VARIABLES:
                        self.assertEqual(g[name].shape, summary, name)
                    for name in TRACE_VARIABLES:
                        self.assertEqual(g[name].shape, (*summary, TINY_SAMPLES), name)
                    for name in UNIT_VARIABLES:
                        self.assertEqual(g[name].shape, (*summary, n_unit), name)
                    for name in PAIR_VARIABLES:
                        self.assertEqual(g[name].shape, (*summary, n_unit, n_unit), name)
                    np.testing.assert_array_equal(g["step"][()], TINY_STEPS)
                    np.testing.assert_allclose(g["time"][()], lr * np.array(TINY_STEPS),
                                               rtol=1e-14, atol=0)
                    self.assertIn("flag_meanings", g["status"].attrs)

                    status = g["status"][()]
                    self.assertTrue(np.all(status == STATUS_DONE), status)
                    np.testing.assert_array_equal(g["steps"][()], TINY_STEPS[-1])
                    for name in ("accuracy", "accuracy_vote", "accuracy_trace",
                                 "accuracy_vote_trace", "unit_accuracy", "cross_accuracy"):
                        values = g[name][()]
                        self.assertTrue(np.all((values >= 0) & (values <= 1)), f"{name}: {values}")
                    rank1 = g["rank1_r2"][()]
                    self.assertTrue(np.all((rank1 > 0) & (rank1 <= 1 + 1e-12)), rank1)
                    order = g["order_parameter"][()]
                    self.assertTrue(np.all(np.isfinite(order) & (order >= 0)), order)
                    # |time average of m| over the measured samples (steps 30 and 40).
                    np.testing.assert_allclose(order, np.abs(g["m"][()][..., 3:].mean(axis=-1)),
                                               rtol=1e-12, atol=1e-14)
                    self.assertTrue(np.all(g["m_abs"][()] >= order - 1e-12))
                    for name in ("loss", "loss_test", "consensus", "parameter_norm"):
                        self.assertTrue(np.all(np.isfinite(g[name][()])), name)

                    with warnings.catch_warnings():
                        # cross_accuracy has the unit dimension twice; xarray warns about it.
                        warnings.simplefilter("ignore")
                        with xarray.open_dataset(out, group=protocol, engine="h5netcdf") as ds:
                            for name in SUMMARY_VARIABLES:
                                self.assertEqual(ds[name].dims, ("depth", "run", "sigma"), name)
                            for name in TRACE_VARIABLES:
                                self.assertEqual(ds[name].dims, ("depth", "run", "sigma", "time"),
                                                 name)
                            self.assertEqual(ds["unit_accuracy"].dims,
                                             ("depth", "run", "sigma", "unit"))
                            self.assertEqual(ds["step"].dims, ("time",))
                            for coordinate in ("sigma", "depth", "run", "time"):
                                self.assertIn(coordinate, ds.coords)
                                np.testing.assert_array_equal(ds[coordinate].values,
                                                              g[coordinate][()], coordinate)
                            np.testing.assert_array_equal(ds["depth"].values,
                                                          [int(d) for d in
                                                           config["micro"]["depths"].split(",")])
                            np.testing.assert_array_equal(ds["run"].values, np.arange(n_run))
                            np.testing.assert_array_equal(ds["sigma"].values, [0.0, 1.0])
                            np.testing.assert_array_equal(ds["accuracy"].values, g["accuracy"][()])

            self.assert_quenched_inputs_contract(out, f)

    def test_synthetic_classes_file_follows_the_public_contract(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "micro.h5")
            self.run_ok("micro", with_tiny_defaults(["--output", out]), tmp)
            self.assertEqual(sorted(os.listdir(tmp)), ["micro.h5"])
            self.assert_contract(out, "classes", "synthetic:5:3", 2, 1, 2, 4, 3)

    def test_idx_classes_file_follows_the_public_contract(self):
        with tempfile.TemporaryDirectory() as tmp:
            directory = write_idx_set(Path(tmp) / "idx")
            out = os.path.join(tmp, "micro.h5")
            self.run_ok("micro", with_tiny_defaults(["--data", f"idx:{directory}:3", "--units",
                                                     "3", "--batch", "4", "--runs", "2",
                                                     "--output", out]), tmp)
            self.assertEqual(sorted(os.listdir(tmp)), ["idx", "micro.h5"])
            self.assert_contract(out, "classes", f"idx:{directory}:3", 2, 2, 2, 3, 3)
            with h5py.File(out, "r") as f:
                # Every realization shares the images: the learning differs only by the seeds.
                self.assertEqual(f["nonadiabatic/cross_accuracy"].shape, (2, 2, 2, 3, 3))

    def test_cifar_classes_run_and_damaged_batches_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            directory = write_cifar_set(Path(tmp) / "cifar")
            out = os.path.join(tmp, "micro.h5")
            self.run_ok("micro", with_tiny_defaults(["--data", f"cifar:{directory}", "--units",
                                                     "10", "--batch", "5", "--output", out]), tmp)
            with h5py.File(out, "r") as f:
                # 15 training images per class (3 in each of 5 batches), one class per unit.
                histogram = f["label_histogram"][0, 0]
                np.testing.assert_array_equal(histogram, 15 * np.eye(10))
                self.assertTrue(np.isfinite(f["nonadiabatic/accuracy"][()]).all())
            batch = Path(directory) / "data_batch_3.bin"
            whole = batch.read_bytes()
            for name, damaged in (("truncated", whole[:-7]), ("empty", b""),
                                  ("label 12", whole[:3073] + bytes([12]) + whole[3074:])):
                with self.subTest(batch=name):
                    batch.write_bytes(damaged)
                    bad = os.path.join(tmp, "bad.h5")
                    result = run_cdl("micro", with_tiny_defaults(
                        ["--data", f"cifar:{directory}", "--units", "10", "--batch", "5",
                         "--output", bad]), tmp)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    self.assertIn(str(batch), self.one_line(result))
                    self.assertFalse(os.path.exists(bad))
            batch.write_bytes(whole)

    def test_files_of_every_new_option_are_read_by_analyze_info_and_merge(self):
        # A scheme, a partition and failures change the layout (communication, label_histogram,
        # the *_live observables): the readers take it from the file's config like any other.
        with tempfile.TemporaryDirectory() as tmp:
            args = ["--units", "6", "--batch", "4", "--scheme", "fedavg:5:0.5", "--partition",
                    "dirichlet:0.5", "--dropout", "0.1", "--link-failure", "0.2", "--crash",
                    "0.34:10"]
            out = os.path.join(tmp, "family.h5")
            self.run_ok("micro", with_tiny_defaults([*args, "--output", out]), tmp)
            shards = []
            for index in (0, 1):
                self.run_ok("micro", with_tiny_defaults([*args, "--task-index", str(index),
                                                         "--task-count", "2", "--output",
                                                         os.path.join(tmp, "shard.h5")]), tmp)
                shards.append(os.path.join(tmp, f"shard.shard-{index}-of-2.h5"))
            merged = os.path.join(tmp, "merged.h5")
            self.run_ok("merge", [merged, *shards], tmp)
            self.assert_same_file(merged, out)
            self.run_ok("info", [out], tmp)
            self.run_ok("analyze", [out, "--quiet"], tmp)
            with h5py.File(out, "r") as f:
                self.assertIn("mean", f["analysis/nonadiabatic"])
                # The mean model's accuracy, averaged over the done realizations.
                g, analysed = f["nonadiabatic"], f["analysis/nonadiabatic"]
                done = g["status"][()] == 0
                np.testing.assert_allclose(
                    analysed["accuracy_mean_model"][()],
                    np.nanmean(np.where(done, g["accuracy_mean_model"][()], np.nan), axis=1),
                    rtol=1e-12)
                self.assertEqual(f["label_histogram"].shape[-1], 3)
                live = f["nonadiabatic/live_fraction"][()]
                np.testing.assert_allclose(live[f["nonadiabatic/status"][()] == 0], 4 / 6)

    def test_accuracy_on_own_and_other_classes(self):
        # One class per unit and as many test samples per class: the mean accuracy is the own
        # class's share 1/K of the own accuracy plus (K-1)/K of the others'. Alone (sigma = 0)
        # a unit knows its own class best; with iid data every class is its own.
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "own.h5")
            self.run_ok("micro", with_tiny_defaults(["--units", "3", "--batch", "8",
                                                     "--output", out]), tmp)
            with h5py.File(out, "r") as f:
                g = f["nonadiabatic"]
                own, other = g["accuracy_own_trace"][()], g["accuracy_other_trace"][()]
                np.testing.assert_allclose(g["accuracy_trace"][()], own / 3 + 2 * other / 3,
                                           rtol=1e-12)
                uncoupled = list(g["sigma"][()]).index(0)
                alone_own = g["accuracy_own"][0, 0, uncoupled]
                alone_other = g["accuracy_other"][0, 0, uncoupled]
                self.assertGreater(alone_own, alone_other + 0.2, (alone_own, alone_other))
            iid = os.path.join(tmp, "iid.h5")
            self.run_ok("micro", with_tiny_defaults(["--units", "3", "--batch", "8", "--partition",
                                                     "iid", "--output", iid]), tmp)
            with h5py.File(iid, "r") as f:
                self.assertTrue(np.isnan(f["nonadiabatic/accuracy_other"][()]).all())
                np.testing.assert_array_equal(f["nonadiabatic/accuracy_own"][()],
                                              f["nonadiabatic/accuracy"][()])

    # ------------------------------------------------------------------ provenance

    def assert_rerun_reproduces(self, tmp, args):
        first = os.path.join(tmp, "first.h5")
        self.run_ok("micro", [*args, "--output", first], tmp)
        with h5py.File(first, "r") as f:
            recorded = f.attrs["config"]
        ini = write_ini(Path(tmp) / "recorded.ini", recorded)
        second = os.path.join(tmp, "second.h5")
        self.run_ok("micro", ["--config", ini, "--quiet", "--output", second], tmp)
        self.assert_same_file(first, second)
        with h5py.File(second, "r") as f:
            self.assertEqual(f.attrs["config"], recorded)

    def test_rerun_from_the_recorded_config_reproduces_every_dataset(self):
        cases = [
            ("synthetic classes, non-default options",
             ["--runs", "2", "--protocols", "adiabatic_up,nonadiabatic", "--seed", "7",
              "--gamma", "0.01", "--activation", "tanh", "--bias", "--weights", "normal:0.5",
              "--batch", "8", "--topology", "er:0.5", "--loss", "mse", "--precision", "float64"]),
            ("teacher", ["--task", "teacher", "--data", "synthetic:4:2", "--noise", "0.3",
                         "--width", "3", "--activation", "relu"]),
        ]
        for name, args in cases:
            with self.subTest(case=name), tempfile.TemporaryDirectory() as tmp:
                self.assert_rerun_reproduces(tmp, with_tiny_defaults(args))
        with self.subTest(case="idx classes"), tempfile.TemporaryDirectory() as tmp:
            directory = write_idx_set(Path(tmp) / "idx")
            self.assert_rerun_reproduces(tmp, with_tiny_defaults(
                ["--data", f"idx:{directory}:3", "--units", "3", "--batch", "4"]))

    # The recorded configuration of a task-effective run must be accepted as it was written.
    def test_rerun_of_a_task_effective_run_from_the_recorded_config(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assert_rerun_reproduces(tmp, ["--task", "effective", "--units", "6", "--sigma",
                                               "0,0.5", "--depths", "1", "--lr", "0.01",
                                               "--transient-steps", "20", "--measure-steps", "20",
                                               "--record-every", "10", "--quiet"])

    # ------------------------------------------------------------------ determinism

    def test_results_do_not_depend_on_the_thread_count(self):
        with tempfile.TemporaryDirectory() as tmp:
            outputs = []
            for threads in (1, 2):
                out = os.path.join(tmp, f"threads{threads}.h5")
                self.run_ok("micro", with_tiny_defaults(["--runs", "2", "--protocols",
                                                         "nonadiabatic,adiabatic_down",
                                                         "--threads", str(threads), "--output",
                                                         out]), tmp)
                outputs.append(out)
            self.assert_same_file(*outputs)

    def test_an_item_shares_its_units_across_threads_bit_identically(self):
        # One adiabatic chain, or one non-adiabatic point, is a single item: its units are
        # shared by every thread. 7 units do not split evenly; er:0.6 takes the neighbour-sum
        # coupling, the default the all-to-all mean.
        single = {"adiabatic chain": ["--protocols", "adiabatic_up", "--sigma", "0.3,3"],
                  "non-adiabatic point": ["--protocols", "nonadiabatic", "--sigma", "1"]}
        with tempfile.TemporaryDirectory() as tmp:
            for (name, args), precision, topology in itertools.product(
                    single.items(), ("float32", "float64"), ("complete", "er:0.6")):
                with self.subTest(item=name, precision=precision, topology=topology):
                    outputs = []
                    for threads in (1, 2, 3):
                        out = os.path.join(tmp, f"{threads}.h5")
                        self.run_ok("micro", with_tiny_defaults([
                            *args, "--runs", "1", "--depths", "1", "--units", "7",
                            "--precision", precision, "--topology", topology, "--threads",
                            str(threads), "--overwrite", "--output", out]), tmp)
                        outputs.append(out)
                    self.assert_same_file(outputs[0], outputs[1])
                    self.assert_same_file(outputs[0], outputs[2])

    def test_never_more_threads_than_asked(self):
        # Two items on 3 threads (one each, the third idle) and one item on 3 threads (shared):
        # the process never runs more than --threads threads (counted in /proc).
        for name, depths, expected in (("two items", "0,1", 2), ("one item", "1", 3)):
            with self.subTest(work=name), tempfile.TemporaryDirectory() as tmp:
                args = with_tiny_defaults([
                    "--runs", "1", "--depths", depths, "--protocols", "adiabatic_up", "--sigma",
                    "log:-1:1:6", "--transient-steps", "3000", "--measure-steps", "3000",
                    "--record-every", "1000", "--units", "6", "--threads", "3", "--output",
                    os.path.join(tmp, "out.h5")])
                most = self.most_threads("micro", args, tmp)
                self.assertEqual(most, expected)  # never more; and the item does share

    # ------------------------------------------------------------------ tasks

    def test_task_effective_uses_the_disorder_and_initial_state_of_cdl_theory(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "micro.h5")
            self.run_ok("micro", ["--task", "effective", "--units", "20", "--sigma", "0,0.5",
                                  "--depths", "1", "--lr", "0.01", "--transient-steps", "200",
                                  "--measure-steps", "200", "--record-every", "50", "--quiet",
                                  "--output", out], tmp)
            theory = os.path.join(tmp, "theory.h5")
            self.run_ok("theory", ["--units", "20", "--runs", "1", "--depths", "1", "--sigma", "0",
                                   "--seed", "1", "--quiet", "--output", theory], tmp)
            with h5py.File(out, "r") as f, h5py.File(theory, "r") as t:
                self.assertEqual(f.attrs["task"], "effective")
                g = f["nonadiabatic"]
                np.testing.assert_array_equal(g["status"][()], STATUS_DONE)
                np.testing.assert_array_equal(g["steps"][()], 400)
                self.assertTrue(np.all(np.isnan(g["accuracy"][()])), "accuracy of a regression")
                self.assertTrue(np.all(np.isnan(g["accuracy_vote"][()])))
                self.assertTrue(np.all(np.isnan(g["alignment"][()])), "alignment without a teacher")
                self.assertTrue(np.all(np.isfinite(g["order_parameter"][()])))
                self.assertTrue(np.all(np.isfinite(g["loss"][()])))
                self.assertEqual(f["disorder"].shape, (1, 1, 20))
                # Same seed, same realization: the same Delta_i and phi_i(0) as `cdl theory`.
                np.testing.assert_array_equal(f["disorder"][0, 0], t["disorder"][0, 0])
                np.testing.assert_allclose(f["initial_state"][0, 0], t["initial_state"][0, 0],
                                           rtol=1e-13, atol=1e-15)

    def test_task_teacher_measures_alignment_and_no_accuracy(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "micro.h5")
            self.run_ok("micro", with_tiny_defaults(["--task", "teacher", "--data",
                                                     "synthetic:4:2", "--output", out]), tmp)
            with h5py.File(out, "r") as f:
                self.assertEqual(f.attrs["task"], "teacher")
                g = f["nonadiabatic"]
                np.testing.assert_array_equal(g["status"][()], STATUS_DONE)
                alignment = g["alignment"][()]
                self.assertTrue(np.all(np.isfinite(alignment)), alignment)
                self.assertTrue(np.all((alignment >= -1) & (alignment <= 1)), alignment)
                trace = g["alignment_trace"][()]
                self.assertTrue(np.all((trace >= -1) & (trace <= 1)), trace)
                self.assertTrue(np.all(np.isnan(g["accuracy"][()])))
                self.assertTrue(np.all(np.isnan(g["accuracy_vote"][()])))
                for name in ("order_parameter", "loss", "loss_test", "consensus", "parameter_norm"):
                    self.assertTrue(np.all(np.isfinite(g[name][()])), name)

    # ------------------------------------------------------------------ dry run

    def test_dry_run_prints_the_grid_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            existing = b"an earlier result\n"
            for overwrite in (False, True):
                with self.subTest(existing_output_with_overwrite=overwrite):
                    if overwrite:
                        Path(out).write_bytes(existing)
                    before = snapshot(tmp)
                    args = ["--sigma", "0,0.5,2", "--runs", "2", "--dry-run", "--output", out]
                    if overwrite:
                        args.append("--overwrite")
                    result = self.run_ok("micro", with_tiny_defaults(args), tmp)
                    self.assertEqual(snapshot(tmp), before)
                    self.assertFalse(os.path.exists(out + ".part"))
                    self.assertEqual(os.path.exists(out), overwrite)
                    self.assertIn("dry run", result.stdout)
                    self.assertRegex(result.stdout, r"sigma \(3 values\): 0 0\.5 2\n")
                    self.assertRegex(result.stdout, r"depths 0 \(.*\) 1 \(")
                    # (20 + 20) steps x 3 couplings x 2 depths x 1 protocol x 2 realizations.
                    match = re.search(r"work: (\S+) coupled steps", result.stdout)
                    self.assertIsNotNone(match, result.stdout)
                    self.assertEqual(float(match.group(1)), 40 * 3 * 2 * 2)

    # ------------------------------------------------------------------ failures

    def test_diverging_point_is_recorded_as_diverged_and_counted_as_failed(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            # tau sigma = 50: explicit coupling overshoots; sigma 0 stays stable.
            result = self.run_ok("micro", with_tiny_defaults(["--sigma", "0,1000", "--lr",
                                                              "0.05", "--output", out]), tmp)
            with h5py.File(out, "r") as f:
                g = f["nonadiabatic"]
                status = g["status"][()]
                np.testing.assert_array_equal(status[..., 0], STATUS_DONE)
                np.testing.assert_array_equal(status[..., 1], STATUS_DIVERGED)
                failed_mask = status != STATUS_DONE
                for name in FLOAT_VARIABLES:
                    values = g[name][()]
                    self.assertTrue(np.all(np.isnan(values[failed_mask])), name)
                for name in ("order_parameter", "loss", "accuracy"):
                    self.assertTrue(np.all(np.isfinite(g[name][()][~failed_mask])), name)
                self.assertTrue(np.all(g["steps"][()][failed_mask] <= 40))
                done, failed = int(np.sum(~failed_mask)), int(np.sum(failed_mask))
            lines = [l for l in result.stdout.splitlines() if l.startswith("points:")]
            self.assertEqual(len(lines), 1, result.stdout)
            match = re.match(r"points: (\d+) done, (\d+) failed", lines[0])
            self.assertIsNotNone(match, lines[0])
            self.assertEqual((int(match.group(1)), int(match.group(2))), (done, failed))
            self.assertEqual((done, failed), (2, 2))


if __name__ == "__main__":
    unittest.main()
