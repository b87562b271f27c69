"""End-to-end tests of `cdl theory`: the command line, the exit codes and the HDF5 file it writes.

Run from the repository root with

    /usr/bin/python3 -m unittest discover -v -s tests/e2e -p test_theory_cli.py

`CDL_BIN` names the executable (default: build/cdl under the repository root). Every test works
in its own temporary directory and uses small sweeps, so the whole file takes a few seconds.
"""

import configparser
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np
import xarray
from e2e_support import (CDL, STATUS_CHAIN_BROKEN, STATUS_DONE, STATUS_NOT_RUN, STATUS_STEP_BUDGET,
                         CdlTestCase, require_cdl, run_cdl, snapshot, write_ini)

PROTOCOLS = ("nonadiabatic", "adiabatic_up", "adiabatic_down")
SUMMARY_VARIABLES = ("order_parameter", "loss", "status", "steps")
TRACE_VARIABLES = ("m", "loss_trace")

# A small sweep: 3 realizations of 20 units at 5 couplings.
SMALL = ["--units", "20", "--runs", "3", "--sigma", "log:-1:1:5", "--quiet"]


def setUpModule():
    require_cdl()


class TheoryCliTest(CdlTestCase):

    # ------------------------------------------------------------------ bad input

    def bad_input_cases(self, tmp):
        """(name, arguments, option the message must name, acceptable value texts)."""
        unknown_key = write_ini(Path(tmp) / "unknown_key.ini", "[theory]\nfoo = 1\n")
        Path(tmp, "config_dir").mkdir()
        malformed = write_ini(Path(tmp) / "malformed.ini", "[theory]\nunits 200\n")
        return [
            ("unknown option", ["--bogus", "1"], "--bogus", ["--bogus"]),
            ("unknown config key", ["--config", unknown_key], "--config", ["foo", "theory.foo"]),
            ("malformed number", ["--gamma", "1e-3x"], "--gamma", ["1e-3x"]),
            ("grid segment missing its count", ["--sigma", "log:-1:1"], "--sigma", ["log:-1:1"]),
            ("one unit", ["--units", "1"], "--units", ["1"]),
            ("no realization", ["--runs", "0"], "--runs", ["0"]),
            ("negative depth", ["--depths", "0,-1"], "--depths", ["0,-1", "-1"]),
            ("negative coupling", ["--sigma", "-0.5"], "--sigma", ["-0.5"]),
            ("non-finite gamma", ["--gamma", "nan"], "--gamma", ["nan"]),
            ("non-finite t-end", ["--t-end", "inf"], "--t-end", ["inf"]),
            ("zero rtol", ["--rtol", "0"], "--rtol", ["0"]),
            ("negative rtol", ["--rtol", "-1e-3"], "--rtol", ["-1e-3"]),
            ("one sample", ["--samples", "1"], "--samples", ["1"]),
            ("zero t-end", ["--t-end", "0"], "--t-end", ["0"]),
            # Horizons must be sample times t_end*k/(samples-1), 0 < h <= t_end, increasing.
            ("zero horizon", ["--horizons", "0"], "--horizons", ["0"]),
            ("negative horizon", ["--horizons", "-1"], "--horizons", ["-1"]),
            ("horizon after t-end", ["--horizons", "5,11"], "--horizons", ["5,11"]),
            ("horizon between samples", ["--t-end", "10", "--samples", "11", "--horizons", "2.5"],
             "--horizons", ["2.5"]),
            ("decreasing horizons", ["--horizons", "10,5"], "--horizons", ["10,5"]),
            ("malformed horizon", ["--horizons", "5,,10"], "--horizons", ["5,,10", "5"]),
            ("missing config file", ["--config", "/nonexistent.ini"], "--config", ["/nonexistent.ini"]),
            ("config that is a directory", ["--config", str(Path(tmp, "config_dir"))], "--config",
             [str(Path(tmp, "config_dir"))]),
            ("config that is a device", ["--config", "/dev/zero"], "--config", ["/dev/zero"]),
            ("threads beyond 4 x the cores", ["--threads", "100000"], "--threads", ["100000"]),
            ("realizations beyond their bound", ["--runs", "1000000000"], "--runs", ["1000000000"]),
            ("samples beyond their bound", ["--samples", "1000000000"], "--samples",
             ["1000000000"]),
            # Two threads whatever the cores the test sees: the estimate scales with them.
            ("a run that cannot fit in memory",
             ["--units", "100000000", "--save-final-states", "--threads", "2"],
             "--units", ["100000000"]),
            ("config line without '='", ["--config", malformed], "--config", ["units 200"]),
            ("N -> infinity on a sparse graph", ["--units", "inf", "--topology", "ring:2"],
             "--topology", ["ring:2"]),
            ("fewer disorder nodes than one panel", ["--units", "inf", "--disorder-nodes", "3"],
             "--disorder-nodes", ["3"]),
            ("zero accuracy", ["--units", "inf", "--accuracy", "0"], "--accuracy", ["0"]),
            ("negative refinement budget", ["--units", "inf", "--refine-levels", "-1"],
             "--refine-levels", ["-1"]),
            ("initial-state order below 2", ["--units", "inf", "--init-order", "1"],
             "--init-order", ["1"]),
            ("N -> infinity from a disorder sample", ["--units", "inf", "--disorder",
             "file:/nonexistent"], "--disorder", ["file:/nonexistent"]),
        ]

    @staticmethod
    def with_small_defaults(args):
        """`args` plus the small-sweep options it does not set itself (program_options refuses
        an option given twice), so that a wrongly accepted case stays cheap."""
        small = {"--units": "20", "--runs": "3", "--sigma": "log:-1:1:5", "--depths": "0,1"}
        given = set(args)
        extra = [w for option, value in small.items() if option not in given for w in (option, value)]
        return [*args, *extra, "--quiet"]

    def test_bad_input_exits_2_with_one_line_naming_option_and_value_and_writes_nothing(self):
        self.check_bad_input("theory", self.bad_input_cases, self.with_small_defaults)

    def test_existing_output_without_overwrite_is_refused_and_left_untouched(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            existing = b"an earlier result\x00\x01\x02\n"
            Path(out).write_bytes(existing)
            os.utime(out, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
            self.assert_rejected("theory", tmp, SMALL, "--output", [out], out, existing)

    def test_output_naming_a_directory_is_refused_and_creates_nothing(self):
        # "newdir/" used to create newdir/ (for the lock file) before refusing it.
        with tempfile.TemporaryDirectory() as tmp:
            for output in ("newdir/", "newdir/."):
                with self.subTest(output=output):
                    result = run_cdl("theory", [*SMALL, "--output", output], tmp)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    lines = result.stderr.splitlines()
                    self.assertEqual(len(lines), 1, result.stderr)
                    self.assertIn("--output", lines[0])
                    self.assertIn("names a directory", lines[0])
                    self.assertEqual(os.listdir(tmp), [])

    # In a grid such as `log:-2:-1:5,lin:a:1:5` the message must say which segment is wrong.
    def test_outputs_are_files_not_links(self):
        # A symlink at OUTPUT (to a file, or dangling) or at OUTPUT.part is refused, with or
        # without --overwrite, and what it points to is left alone.
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "important.txt"
            target.write_text("keep me")
            out = os.path.join(tmp, "out.h5")
            cases = [("to a file", out, target), ("dangling", out, Path(tmp) / "nowhere"),
                     ("at OUTPUT.part", out + ".part", target)]
            for name, link, points_to in cases:
                for extra in ([], ["--overwrite"]):
                    with self.subTest(case=name, extra=extra):
                        os.symlink(points_to, link)
                        try:
                            before = sorted(os.listdir(tmp))
                            result = run_cdl("theory", [*SMALL, *extra, "--output", out], tmp,
                                             timeout=60)
                            self.assertEqual(result.returncode, 2, result.stderr)
                            lines = result.stderr.strip().splitlines()
                            self.assertEqual(len(lines), 1, result.stderr)
                            self.assertIn("--output", lines[0])
                            self.assertIn("symbolic link", lines[0])
                            self.assertEqual(sorted(os.listdir(tmp)), before)
                            self.assertTrue(os.path.islink(link))
                        finally:
                            os.unlink(link)
                        self.assertEqual(target.read_text(), "keep me")

    def test_malformed_grid_segment_message_names_the_segment(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            self.assert_rejected("theory", tmp, self.with_small_defaults(["--sigma", "log:a:1:5"]),
                                 "--sigma", ["log:a:1:5"], out)

    # access(2) passes everything for root, so the failure to create the file must itself be
    # reported as bad input on --output.
    def test_unwritable_output_is_bad_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = "/proc/forbidden/x.h5"
            self.assert_rejected("theory", tmp, SMALL, "--output", [out], out)
            self.assertFalse(os.path.exists("/proc/forbidden"))

    # ------------------------------------------------------------------ output contract

    def test_output_file_follows_the_public_contract(self):
        t_end, samples = 5.0, 40
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "sweep.h5")
            self.run_ok("theory", [*SMALL, "--protocols", ",".join(PROTOCOLS), "--depths", "0,1",
                                   "--t-end", "5", "--samples", str(samples), "--save-final-states",
                                   "--output", out], tmp)
            self.assertEqual(sorted(os.listdir(tmp)), ["sweep.h5"])
            n_depth, n_run, n_sigma, n_unit = 2, 3, 5, 20
            with h5py.File(out, "r") as f:
                for name in ("cdl_version", "command", "config", "created"):
                    self.assertIn(name, f.attrs)
                    self.assertIsInstance(f.attrs[name], str, name)
                config = configparser.ConfigParser()
                config.read_string(f.attrs["config"])
                self.assertIn("theory", config)
                self.assertEqual(config["theory"]["units"], "20")
                self.assertEqual(config["theory"]["runs"], "3")
                self.assertEqual(config["theory"]["sigma"], "log:-1:1:5")

                for name in ("disorder", "initial_state"):
                    self.assertEqual(f[name].shape, (n_depth, n_run, n_unit), name)
                    # One chain per chunk, uncompressed so that results are written in place
                    # (a killed run leaves a readable file).
                    self.assertEqual(f[name].chunks, (1, 1, n_unit), name)
                    self.assertIsNone(f[name].compression, name)

                for protocol in PROTOCOLS:
                    with self.subTest(protocol=protocol):
                        g = f[protocol]
                        for name in SUMMARY_VARIABLES:
                            self.assertEqual(g[name].shape, (n_depth, n_run, n_sigma), name)
                        for name in TRACE_VARIABLES:
                            self.assertEqual(g[name].shape, (n_depth, n_run, n_sigma, samples), name)
                        self.assertEqual(g["final_state"].shape, (n_depth, n_run, n_sigma, n_unit))
                        for name in (*SUMMARY_VARIABLES, *TRACE_VARIABLES, "final_state"):
                            self.assertEqual(g[name].chunks[:2], (1, 1), name)
                            self.assertIsNone(g[name].compression, name)
                        status = g["status"][()]
                        self.assertTrue(np.all(status == STATUS_DONE), status)
                        self.assertIn("flag_values", g["status"].attrs)
                        self.assertIn("flag_meanings", g["status"].attrs)

                        m = g["m"][()]
                        expected = np.abs(np.mean(m[..., samples // 2:], axis=-1))
                        np.testing.assert_allclose(g["order_parameter"][()], expected, rtol=0,
                                                   atol=1e-12)
                        times = g["time"][()]
                        self.assertEqual(times[0], 0.0)
                        self.assertEqual(times[-1], t_end)
                        np.testing.assert_allclose(times, np.linspace(0, t_end, samples), rtol=1e-14,
                                                   atol=0)

                        with xarray.open_dataset(out, group=protocol, engine="h5netcdf") as ds:
                            for name in SUMMARY_VARIABLES:
                                self.assertEqual(ds[name].dims, ("depth", "run", "sigma"), name)
                            for name in TRACE_VARIABLES:
                                self.assertEqual(ds[name].dims, ("depth", "run", "sigma", "time"), name)
                            for coordinate in ("sigma", "depth", "run", "time"):
                                self.assertIn(coordinate, ds.coords)
                                np.testing.assert_array_equal(ds[coordinate].values,
                                                              g[coordinate][()], coordinate)
                            np.testing.assert_array_equal(ds["depth"].values, [0, 1])
                            np.testing.assert_array_equal(ds["run"].values, [0, 1, 2])
                            np.testing.assert_allclose(ds["sigma"].values, np.logspace(-1, 1, 5),
                                                       rtol=1e-14)
                            np.testing.assert_array_equal(ds["order_parameter"].values,
                                                          g["order_parameter"][()])

                self.assert_quenched_inputs_contract(out, f)

    # ------------------------------------------------------------------ provenance

    def test_rerun_from_the_recorded_config_reproduces_every_dataset(self):
        with tempfile.TemporaryDirectory() as tmp:
            first = os.path.join(tmp, "first.h5")
            self.run_ok("theory", [*SMALL, "--depths", "0,2", "--protocols",
                                   "adiabatic_down,nonadiabatic", "--seed", "7", "--gamma", "0.01",
                                   "--t-end", "4", "--samples", "30", "--disorder",
                                   "uniform:-1:1.5", "--init", "normal:0.3:1", "--topology",
                                   "er:0.5", "--save-final-states", "--output", first], tmp)
            with h5py.File(first, "r") as f:
                recorded = f.attrs["config"]
            ini = write_ini(Path(tmp) / "recorded.ini", recorded)
            second = os.path.join(tmp, "second.h5")
            self.run_ok("theory", ["--config", ini, "--quiet", "--output", second], tmp)
            self.assert_same_file(first, second, compare_attributes=False)
            with h5py.File(second, "r") as f:
                self.assertEqual(f.attrs["config"], recorded)

    # ------------------------------------------------------------------ determinism

    def test_results_do_not_depend_on_the_thread_count(self):
        with tempfile.TemporaryDirectory() as tmp:
            outputs = []
            for threads in (1, 2):
                out = os.path.join(tmp, f"threads{threads}.h5")
                self.run_ok("theory", [*SMALL, "--depths", "0,1,2", "--protocols",
                                       ",".join(PROTOCOLS), "--topology", "ws:4:0.3",
                                       "--save-final-states", "--threads", str(threads),
                                       "--output", out], tmp)
                outputs.append(out)
            self.assert_same_file(*outputs, compare_attributes=False)

    def test_an_infinite_population_item_never_uses_more_threads_than_asked(self):
        # One N -> infinity adiabatic chain on 3 threads integrates its two rules side by side
        # (2 threads); two chains on 4 threads may each do so (at most 4: how many run at once
        # depends on timing). Counted in /proc; the files are those of one thread.
        for name, depths, threads, most_expected in (("one item", "2", 3, 2),
                                                     ("two items", "1,2", 4, 4)):
            with self.subTest(work=name), tempfile.TemporaryDirectory() as tmp:
                args = ["theory", "--units", "inf", "--protocols", "adiabatic_up", "--depths",
                        depths, "--sigma", "0.5,1,2", "--quiet"]
                single = os.path.join(tmp, "single.h5")
                self.run_ok(args[0], [*args[1:], "--threads", "1", "--output", single], tmp)
                out = os.path.join(tmp, "out.h5")
                most = self.most_threads(args[0], [*args[1:], "--threads", str(threads),
                                                   "--output", out], tmp)
                self.assertLessEqual(most, most_expected)
                if name == "one item":
                    self.assertEqual(most, 2)  # the rules do run side by side
                self.assert_same_file(single, out, compare_attributes=False)

    # ------------------------------------------------------------------ configuration

    def test_later_config_files_and_the_command_line_take_precedence(self):
        with tempfile.TemporaryDirectory() as tmp:
            a = write_ini(Path(tmp) / "a.ini", "[theory]\nruns = 2\nunits = 7\ndepths = 0,1\n")
            b = write_ini(Path(tmp) / "b.ini", "[theory]\nruns = 4\n")
            cases = [
                ("b after a, --units on the command line", [a, b], ["--units", "9"], 4, 9),
                ("a after b, --units on the command line", [b, a], ["--units", "9"], 2, 9),
                ("a after b, units from a", [b, a], [], 2, 7),
            ]
            for k, (name, files, extra, runs, units) in enumerate(cases):
                with self.subTest(case=name):
                    out = os.path.join(tmp, f"out{k}.h5")
                    args = [w for path in files for w in ("--config", path)]
                    self.run_ok("theory", [*args, *extra, "--sigma", "0.5,2", "--quiet", "--output",
                                           out], tmp)
                    with h5py.File(out, "r") as f:
                        self.assertEqual(f["disorder"].shape, (2, runs, units))
                        self.assertEqual(f["nonadiabatic/order_parameter"].shape, (2, runs, 2))
                        config = configparser.ConfigParser()
                        config.read_string(f.attrs["config"])
                        self.assertEqual(config["theory"]["runs"], str(runs))
                        self.assertEqual(config["theory"]["units"], str(units))

    # ------------------------------------------------------------------ failures

    def summary_counts(self, stdout):
        lines = [l for l in stdout.splitlines() if l.startswith("integrations:")]
        self.assertEqual(len(lines), 1, stdout)
        match = re.match(r"integrations: (\d+) done, (\d+) failed(?: \(([^)]*)\))?$", lines[0])
        self.assertIsNotNone(match, lines[0])
        by_name = {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", match.group(3) or "")}
        return int(match.group(1)), int(match.group(2)), by_name

    def assert_failures_recorded(self, out, stdout, protocols):
        names = None
        total = {}
        with h5py.File(out, "r") as f:
            for protocol in protocols:
                g = f[protocol]
                status = g["status"][()]
                order = g["order_parameter"][()]
                np.testing.assert_array_equal(np.isnan(order), status != STATUS_DONE)
                self.assertTrue(np.all(np.isnan(g["m"][()][status != STATUS_DONE])))
                names = g["status"].attrs["flag_meanings"].split()
                for code, count in zip(*np.unique(status, return_counts=True)):
                    total[int(code)] = total.get(int(code), 0) + int(count)
        done, failed, by_name = self.summary_counts(stdout)
        self.assertEqual(done, total.get(STATUS_DONE, 0))
        self.assertEqual(failed, sum(n for code, n in total.items() if code != STATUS_DONE))
        self.assertEqual(by_name, {names[code]: n for code, n in total.items() if code != STATUS_DONE})

    def test_failed_integrations_are_recorded_in_status_and_never_averaged(self):
        units, runs = 20, 3
        protocols = ("nonadiabatic", "adiabatic_up")
        normal = " ".join(["0.5"] * units)
        huge = " ".join(["0.5"] * 7 + ["1e200"] + ["0.5"] * (units - 8))
        cases = [("one row for every realization", [huge], {0, 1, 2}),
                 ("one row per realization, the second huge", [normal, huge, normal], {1})]
        for name, rows, failing_runs in cases:
            with self.subTest(case=name), tempfile.TemporaryDirectory() as tmp:
                disorder = Path(tmp) / "disorder.txt"
                disorder.write_text("\n".join(rows) + "\n")
                out = os.path.join(tmp, "out.h5")
                result = self.run_ok("theory", [*SMALL, "--depths", "0,1", "--protocols",
                                                ",".join(protocols), "--disorder",
                                                f"file:{disorder}", "--output", out], tmp)
                self.assert_failures_recorded(out, result.stdout, protocols)
                with h5py.File(out, "r") as f:
                    status = f["nonadiabatic/status"][()]
                    for run in range(runs):
                        if run in failing_runs:
                            self.assertTrue(np.all(np.isin(status[:, run], [2, 3, 4])), status[:, run])
                        else:
                            self.assertTrue(np.all(status[:, run] == STATUS_DONE), status[:, run])
                    up = f["adiabatic_up/status"][()]
                    self.assertTrue(np.all(up[:, sorted(failing_runs)] != STATUS_DONE))
                    np.testing.assert_array_equal(f["disorder"][0, :, 7] == 1e200,
                                                  [r in failing_runs for r in range(runs)])
                _, failed, _ = self.summary_counts(result.stdout)
                self.assertGreater(failed, 0)

    def test_not_converged_points_keep_their_value_are_counted_and_never_analysed(self):
        # D = 3 inside its transition: the base rule alone misses 2e-4 (its estimate is about
        # 1e-3), so with no refinement budget the point is not_converged; past the transition
        # it converges.
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "inf.h5")
            result = self.run_ok("theory", ["--units", "inf", "--depths", "3", "--sigma",
                                            "4.467,30", "--protocols", "nonadiabatic",
                                            "--refine-levels", "0", "--accuracy", "2e-4",
                                            "--output", out], tmp)
            done, failed, by_name = self.summary_counts(result.stdout)
            self.assertEqual((done, failed, by_name), (1, 1, {"not_converged": 1}))
            self.assertIn("* not_converged", result.stdout)
            with h5py.File(out, "r") as f:
                g = f["nonadiabatic"]
                names = g["status"].attrs["flag_meanings"].split()
                status = g["status"][0, 0]
                self.assertEqual([names[s] for s in status], ["not_converged", "done"])
                # The best value and its estimate are kept, the estimate above the target.
                self.assertTrue(np.all(np.isfinite(g["order_parameter"][0, 0])))
                self.assertGreater(g["order_parameter_error"][0, 0, 0], 2e-4)
                self.assertLessEqual(g["order_parameter_error"][0, 0, 1], 2e-4)
            info = subprocess.run([str(CDL), "info", out], capture_output=True, text=True)
            self.assertEqual(info.returncode, 0, info.stderr)
            self.assertIn("1 done, 1 failed (1 not_converged)", info.stdout)
            info_json = subprocess.run([str(CDL), "info", out, "--json"], capture_output=True,
                                       text=True)
            self.assertEqual(json.loads(info_json.stdout)["protocols"]["nonadiabatic"]
                             ["not_converged"], 1)
            analysis = subprocess.run([str(CDL), "analyze", out, "--output",
                                       os.path.join(tmp, "an.h5")], capture_output=True, text=True)
            self.assertEqual(analysis.returncode, 0, analysis.stderr)
            self.assertIn("(left out: 1 not_converged)", analysis.stdout)
            with h5py.File(os.path.join(tmp, "an.h5"), "r") as f:
                mean = f["analysis/nonadiabatic/mean"][0]
            self.assertTrue(np.isnan(mean[0]))  # never averaged
            self.assertTrue(np.isfinite(mean[1]))

    def test_step_budget_fails_every_point_and_breaks_adiabatic_chains(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            # Deliberately not sorted, so that the visiting order differs from the index order.
            sigma = "1,0.1,10,0.3"
            result = self.run_ok("theory", ["--units", "20", "--runs", "3", "--sigma", sigma,
                                            "--quiet", "--depths", "0,1", "--protocols",
                                            ",".join(PROTOCOLS), "--max-steps", "3", "--output",
                                            out], tmp)
            self.assert_failures_recorded(out, result.stdout, PROTOCOLS)
            values = np.array([float(s) for s in sigma.split(",")])
            with h5py.File(out, "r") as f:
                self.assertTrue(np.all(f["nonadiabatic/status"][()] == STATUS_STEP_BUDGET))
                for protocol, first in (("adiabatic_up", np.argmin(values)),
                                        ("adiabatic_down", np.argmax(values))):
                    with self.subTest(protocol=protocol):
                        status = f[protocol]["status"][()]
                        self.assertTrue(np.all(status[..., first] == STATUS_STEP_BUDGET), status)
                        rest = np.delete(status, first, axis=-1)
                        self.assertTrue(np.all(rest == STATUS_CHAIN_BROKEN), status)

    # ------------------------------------------------------------------ dry run

    def test_dry_run_prints_the_number_of_integrations_and_creates_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            before = snapshot(tmp)
            result = self.run_ok("theory", ["--units", "20", "--runs", "3", "--sigma",
                                            "log:-1:1:5,2.5", "--depths", "0,1", "--protocols",
                                            ",".join(PROTOCOLS), "--dry-run", "--output", out],
                                 tmp)
            self.assertEqual(snapshot(tmp), before)
            self.assertFalse(os.path.exists(out))
            self.assertFalse(os.path.exists(out + ".part"))
            match = re.search(r"(\d+) integrations", result.stdout)
            self.assertIsNotNone(match, result.stdout)
            self.assertEqual(int(match.group(1)), 3 * 2 * 3 * 6)

    # ------------------------------------------------------------------ interruption

    def test_a_second_process_on_the_same_output_is_refused_and_the_first_loses_nothing(self):
        # The reproduction: a run, then --overwrite, --resume, a merge onto its output and
        # an in-place analyze of its partial file while it runs; each must exit 2 naming the running process and
        # touch nothing, and the first run's file must equal an undisturbed run's.
        job = ["--units", "200", "--runs", "60", "--depths", "0,1,2", "--sigma",
               "log:-2:2.2:40", "--protocols", "nonadiabatic,adiabatic_up", "--threads", "1",
               "--quiet"]
        with tempfile.TemporaryDirectory() as tmp:
            out, part = os.path.join(tmp, "cs.h5"), os.path.join(tmp, "cs.h5.part")
            shard = os.path.join(tmp, "shard.h5")  # something for a merge onto the same output
            self.run_ok("theory", ["--units", "5", "--runs", "1", "--sigma", "1", "--quiet",
                                   "--output", shard], tmp)
            first = subprocess.Popen([str(CDL), "theory", *job, "--output", out], cwd=tmp,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 30
                while not os.path.exists(part) and first.poll() is None:
                    self.assertLess(time.monotonic(), deadline, "no partial file appeared")
                    time.sleep(0.01)
                self.assertIsNone(first.poll(), "the first run ended too early to be disturbed")
                for name, args in [("--overwrite", ["theory", *job, "--output", out, "--overwrite"]),
                                   ("--resume", ["theory", *job, "--output", out, "--resume"]),
                                   ("merge", ["merge", out, shard, "--overwrite"]),
                                   ("analyze", ["analyze", out + ".part"])]:
                    with self.subTest(second=name):
                        second = subprocess.run([str(CDL), *args], cwd=tmp, capture_output=True,
                                                text=True, timeout=60)
                        self.assertEqual(second.returncode, 2, second.stderr)
                        lines = second.stderr.strip().splitlines()
                        self.assertEqual(len(lines), 1, second.stderr)
                        if name != "analyze":  # analyze cannot even open a file being written
                            self.assertIn(f"in use by process {first.pid}", lines[0])
                stdout, stderr = first.communicate(timeout=300)
            finally:
                if first.poll() is None:
                    first.kill()
                    first.communicate()
            self.assertEqual(first.returncode, 0, stderr)
            self.assertFalse(os.path.exists(part))
            undisturbed = os.path.join(tmp, "alone.h5")
            self.run_ok("theory", [*job, "--output", undisturbed], tmp)
            self.assert_same_file(out, undisturbed, compare_attributes=False)
            # The lock dies with its holder: a run after the first one is not refused.
            self.run_ok("theory", [*job, "--output", out, "--overwrite"], tmp)

    def test_interrupt_exits_3_and_leaves_a_partial_file_with_a_status_mask(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.h5")
            part = out + ".part"
            for runs in (40, 200, 1000):
                for path in (out, part):
                    if os.path.exists(path):
                        os.remove(path)
                process = subprocess.Popen(
                    [str(CDL), "theory", "--units", "200", "--runs", str(runs), "--threads", "1",
                     "--quiet", "--output", out],
                    cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    # The signal handler is installed before the partial file is created.
                    self.wait_for_file(part, process, poll=0.01)
                    time.sleep(0.3)
                    if process.poll() is None:
                        process.send_signal(signal.SIGINT)
                    stdout, stderr = process.communicate(timeout=120)
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.communicate()
                if process.returncode == 0:
                    continue  # finished before the signal: try a larger sweep
                break
            else:
                self.fail("the sweep always finished before SIGINT")

            self.assertEqual(process.returncode, 3, f"stdout: {stdout!r}\nstderr: {stderr!r}")
            self.assertFalse(os.path.exists(out), "an interrupted run left the final name")
            self.assertTrue(os.path.exists(part))
            statuses = []
            with h5py.File(part, "r") as f:
                for protocol in ("nonadiabatic", "adiabatic_up"):
                    status = f[protocol]["status"][()]
                    order = f[protocol]["order_parameter"][()]
                    self.assertTrue(np.all(np.isfinite(order[status == STATUS_DONE])))
                    self.assertTrue(np.all(np.isnan(order[status == STATUS_NOT_RUN])))
                    statuses.append(status.ravel())
            statuses = np.concatenate(statuses)
            self.assertTrue(np.any(statuses == STATUS_DONE), "no finished point in the partial file")
            self.assertTrue(np.any(statuses == STATUS_NOT_RUN), "no unfinished point in the partial file")

            # An analysis of the unfinished file is stale once the sweep completes: --resume
            # removes it.
            analysis = subprocess.run([str(CDL), "analyze", part, "--quiet"], cwd=tmp,
                                      capture_output=True, text=True, timeout=120)
            self.assertEqual(analysis.returncode, 0, analysis.stderr)
            with h5py.File(part, "r") as f:
                self.assertIn("analysis", f)
            resumed = subprocess.run([str(CDL), "theory", "--units", "200", "--runs", str(runs),
                                      "--threads", "2", "--output", out, "--resume"], cwd=tmp,
                                     capture_output=True, text=True, timeout=600)
            self.assertEqual(resumed.returncode, 0, resumed.stderr)
            self.assertIn("removed the /analysis", resumed.stderr)
            with h5py.File(out, "r") as f:
                self.assertNotIn("analysis", f)


if __name__ == "__main__":
    unittest.main()
