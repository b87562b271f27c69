"""Hostile files for the Python reader (analysis/cdl_analysis/reader.py) and the plot command.

The reader's contract: every failure is a ValueError (bad or unexpected content) or an OSError
(cannot read: missing, not a regular file, I/O) whose message names the file and the HDF5
object concerned, and `python3 -m cdl_analysis.plot` then exits 2 with one line on stderr.
Cases: deleted or reshaped dimension scales, soft and external links (dangling, to another
file, to an existing dataset, a loop), datasets declared far larger than their axes or than
the memory, FIFOs, directories and /dev/null, other integer and float widths, and real theory,
micro and stationary files with flipped bits or cut short at random offsets (fixed seed), each
read in a worker process under a per-file deadline (HDF5 itself crashes on about 1 % of them:
reported, not failed, see FuzzTest).

    cd tests/e2e && /usr/bin/python3 -m unittest test_reader_hostile -v

`CDL_BIN` names the executable (default: build/cdl under the repository root). About 15-20 s
on 2 cores, most of it the fuzzing (a worker process per core).
"""

import contextlib
import faulthandler
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import unittest
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from e2e_support import REPO_ROOT, require_cdl, run_cdl

ANALYSIS = REPO_ROOT / "analysis"
PYTHON = "/usr/bin/python3"
sys.path.insert(0, str(ANALYSIS))
from cdl_analysis import reader  # noqa: E402

FUNCTIONS = ("file_kind", "open_sweep", "open_root", "open_stationary")
SWEEP_FUNCTIONS = ("open_sweep", "open_root")
MAKE = {
    "theory": ["theory", "--units", "10", "--runs", "2", "--depths", "0,1", "--sigma",
               "log:-1:1:4", "--samples", "5", "--protocols", "nonadiabatic,adiabatic_up",
               "--quiet"],
    "micro": ["micro", "--units", "3", "--runs", "2", "--depths", "0,1", "--sigma", "0,1",
              "--transient-steps", "10", "--measure-steps", "10", "--record-every", "5",
              "--data", "synthetic:4:3", "--train-size", "20", "--test-size", "10",
              "--batch", "10", "--quiet"],
    "stationary": ["stationary", "--depths", "1,2", "--sigma", "log:-1:2:40", "--quiet"],
}
SEED = 20261205
VARIANTS = {"theory": 60, "micro": 30, "stationary": 30}
DEADLINE = 60         # seconds a worker may spend on one damaged file (see FuzzTest)
MAX_CRASH_SHARE = 0.1  # of the variants that may crash HDF5 itself (see FuzzTest)

TMP = None
FILES = {}  # kind -> path of the intact file


def setUpModule():
    global TMP
    require_cdl()
    TMP = tempfile.TemporaryDirectory()
    for kind, args in MAKE.items():
        FILES[kind] = os.path.join(TMP.name, f"{kind}.h5")
        result = run_cdl(args[0], [*args[1:], "--output", FILES[kind]], cwd=TMP.name)
        if result.returncode != 0:
            raise RuntimeError(f"cdl {' '.join(args)} failed:\n{result.stderr}")


def tearDownModule():
    TMP.cleanup()


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ANALYSIS) + (os.pathsep + env["PYTHONPATH"]
                                         if env.get("PYTHONPATH") else "")
    env["MPLBACKEND"] = "Agg"
    return env


def plot_command(*args, timeout=60):
    """`python3 -m cdl_analysis.plot ARGS...`: the CompletedProcess (text)."""
    return subprocess.run([PYTHON, "-m", "cdl_analysis.plot", *map(str, args)], cwd=TMP.name,
                          env=child_env(), capture_output=True, text=True, timeout=timeout)


def plot_in_process(args):
    """figures.main(ARGS) as the command runs it: (exit code, stderr). Each call sees warnings
    as a fresh process would (catch_warnings resets the once-per-location registries)."""
    from cdl_analysis import figures
    stderr = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(io.StringIO()):
        code = figures.main([str(a) for a in args])
    return code, stderr.getvalue()


@contextlib.contextmanager
def deadline(seconds):
    """Fails the test instead of hanging (SIGALRM interrupts a blocking open)."""
    def expire(signum, frame):
        raise AssertionError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class HostileCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def edited(self, kind, edit, name="hostile.h5"):
        """A copy of the intact `kind` file changed by edit(h5py.File)."""
        path = os.path.join(self.tmp.name, name)
        shutil.copy(FILES[kind], path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    def assert_refused(self, path, functions, error, *names):
        """Each reader function raises `error` (ValueError or OSError) with a message naming
        the file and every one of `names`; returns the messages."""
        messages = []
        for function in functions:
            with self.subTest(function=function):
                with deadline(30), self.assertRaises(error) as caught:
                    getattr(reader, function)(path)
                if error is ValueError:
                    self.assertNotIsInstance(caught.exception, OSError)
                message = str(caught.exception)
                self.assertIn(str(path), message)
                for name in names:
                    self.assertIn(name, message)
                messages.append(message)
        return messages

    def assert_plot_refused(self, path, *names, kind="order", command=False):
        """The plot command exits 2 with one stderr line naming the file and `names`."""
        if command:
            result = plot_command(kind, path, "--out", os.path.join(self.tmp.name, "x.png"))
            code, stderr = result.returncode, result.stderr
        else:
            code, stderr = plot_in_process([kind, path, "--out",
                                            os.path.join(self.tmp.name, "x.png")])
        self.assertEqual(code, 2, stderr)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        self.assertNotIn("Traceback", stderr)
        for name in (str(path), *names):
            self.assertIn(name, stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x.png")))


LOST = "has lost its dimension scale"


def replace(name, value):
    """An edit: the dataset `name` replaced by a plain dataset of `value` (the references to
    the old one, if a dimension scale, left dangling or pointing at the new one)."""
    def edit(f):
        del f[name]
        f[name] = value
    return edit


def delete(name):
    def edit(f):
        del f[name]
    return edit


class DimensionScaleTest(HostileCase):
    """Deleted or reshaped dimension scales (once AttributeError, RuntimeError or an xarray
    error without the file's name)."""

    def test_root_scales_of_a_sweep(self):
        cases = [  # edit, names in the message
            (delete("depth"), ["axis 0 of /disorder", LOST]),
            (delete("unit"), ["axis 2 of /disorder", LOST]),
            (replace("depth", np.arange(5, dtype=np.int32)), ["axis 0 of /disorder", LOST]),
            (replace("unit", np.arange(4, dtype=np.int32)), ["axis 2 of /disorder", LOST]),
            (replace("depth", np.zeros((2, 2), np.int32)), ["/depth", "(2, 2)", "not 1-D"]),
            (replace("unit", np.zeros((2, 10), np.int32)), ["/unit", "(2, 10)", "not 1-D"]),
        ]
        for i, (edit, names) in enumerate(cases):
            with self.subTest(case=names):
                path = self.edited("theory", edit, f"root{i}.h5")
                self.assert_refused(path, SWEEP_FUNCTIONS, ValueError, *names)
        self.assert_plot_refused(path, "/unit")

    def test_protocol_group_scales(self):
        cases = [
            (delete("nonadiabatic/depth"), ["axis 0 of /nonadiabatic/loss", LOST]),
            (replace("nonadiabatic/depth", np.arange(5, dtype=np.int32)),
             ["axis 0 of /nonadiabatic/loss", LOST]),
            (replace("nonadiabatic/depth", np.zeros((2, 3), np.int32)),
             ["/nonadiabatic/depth", "(2, 3)", "not 1-D"]),
            (replace("nonadiabatic/sigma", np.zeros((4, 1))), ["/nonadiabatic/sigma", "(4, 1)"]),
        ]
        for i, (edit, names) in enumerate(cases):
            with self.subTest(case=names):
                path = self.edited("theory", edit, f"group{i}.h5")
                self.assert_refused(path, ["open_sweep"], ValueError, *names)
                # open_root reads the root only, which is intact
                self.assertIn("disorder", reader.open_root(path))
        micro = self.edited("micro", delete("nonadiabatic/unit_j"), "micro.h5")
        self.assert_refused(micro, ["open_sweep"], ValueError,
                            "axis 4 of /nonadiabatic/cross_accuracy", LOST)
        self.assert_plot_refused(micro, "/nonadiabatic/cross_accuracy")

    def test_a_dataset_longer_than_its_axes(self):
        def edit(f):
            g = f["nonadiabatic"]
            extra = g.create_dataset("extra", shape=(2, 2, 10**6), dtype="f8", chunks=(1, 1, 1000))
            for axis, scale in enumerate(("depth", "run", "sigma")):
                extra.dims[axis].attach_scale(g[scale])
        path = self.edited("theory", edit)
        self.assert_refused(path, ["open_sweep"], ValueError, "axis 2 of /nonadiabatic/extra",
                            "1000000 long", "/nonadiabatic/sigma", "length 4")

    def test_critical_depth_of_a_stationary_file(self):
        cases = [
            (delete("critical/depth"), ["axis 0 of /critical/sigma_c1", LOST]),
            (replace("critical/depth", np.arange(7, dtype=np.int32)),
             ["axis 0 of /critical/sigma_c1", LOST]),
            (replace("critical/depth", np.zeros((2, 2), np.int32)),
             ["/critical/depth", "(2, 2)", "not 1-D"]),
        ]
        for i, (edit, names) in enumerate(cases):
            with self.subTest(case=names):
                path = self.edited("stationary", edit, f"stationary{i}.h5")
                self.assert_refused(path, ["open_stationary"], ValueError, *names)
                self.assertEqual(reader.file_kind(path), "stationary")
        self.assert_plot_refused(path, "/critical/depth", kind="phase-depth")

    def test_a_protocol_group_without_its_axes(self):
        # A hand-made file without dimension scales: the axes are guessed from the group's
        # coordinates, but a protocol group needs its depth, run and sigma.
        path = os.path.join(self.tmp.name, "plain.h5")
        with h5py.File(path, "w") as f:
            f.attrs["subcommand"] = "theory"
            g = f.create_group("nonadiabatic")
            g["run"], g["sigma"] = np.arange(3), np.logspace(-1, 1, 4)
            g["status"] = np.zeros((2, 3, 4), dtype=np.int8)
            g["order_parameter"] = np.ones((2, 3, 4))
        self.assert_refused(path, ["open_sweep"], ValueError, "/nonadiabatic",
                            "no depth coordinate")
        self.assert_plot_refused(path, "/nonadiabatic")


class LinkTest(HostileCase):
    """A cdl file holds no links: any soft or external link is refused before anything is read,
    by every reader function (dangling ones were skipped, loops raised RuntimeError)."""

    def test_links_anywhere(self):
        other = os.path.join(self.tmp.name, "other.h5")
        shutil.copy(FILES["micro"], other)
        cases = [  # name, where, link, names in the message
            ("dangling", "nonadiabatic/x", h5py.SoftLink("/nowhere"), ["soft link", "/nowhere"]),
            ("external, missing file", "nonadiabatic/x", h5py.ExternalLink("missing.h5", "/x"),
             ["external link", "missing.h5"]),
            ("external, existing file", "adiabatic_up/depth2", h5py.ExternalLink(other, "/depth"),
             ["external link", other]),
            ("soft to a dataset", "order", h5py.SoftLink("/nonadiabatic/order_parameter"),
             ["soft link", "/nonadiabatic/order_parameter"]),
        ]
        for label, where, link, names in cases:
            with self.subTest(case=label):
                def edit(f):
                    f[where] = link
                path = self.edited("theory", edit, f"{label}.h5")
                self.assert_refused(path, FUNCTIONS, ValueError, "/" + where, *names)
        self.assert_plot_refused(path, "/order", command=True)

    def test_soft_link_loop(self):
        def edit(f):
            f["nonadiabatic/a"] = h5py.SoftLink("/nonadiabatic/b")
            f["nonadiabatic/b"] = h5py.SoftLink("/nonadiabatic/a")
        path = self.edited("micro", edit)
        self.assert_refused(path, FUNCTIONS, ValueError, "/nonadiabatic/a", "soft link")

    def test_link_in_a_stationary_file(self):
        def edit(f):
            f["critical/sigma_c3"] = h5py.SoftLink("/critical/sigma_c2")
        path = self.edited("stationary", edit)
        self.assert_refused(path, FUNCTIONS, ValueError, "/critical/sigma_c3")


class SizeTest(HostileCase):
    """A dataset declared huge (fill value only, a few bytes on disk) is refused from its shape
    before it is read (once a MemoryError, or a long hang filling memory)."""

    def test_huge_dataset(self):
        def edit(f):
            f["nonadiabatic"].create_dataset("huge", shape=(10**6, 10**6), dtype="f8",
                                             chunks=(1, 1000))
        path = self.edited("theory", edit)
        self.assertLess(os.path.getsize(path), 10 * os.path.getsize(FILES["theory"]))
        self.assert_refused(path, ["open_sweep"], ValueError, "/nonadiabatic/huge",
                            "(1000000, 1000000)", "GiB", "physical memory")
        self.assert_plot_refused(path, "/nonadiabatic/huge")

    def test_huge_root_dataset(self):
        def edit(f):
            f.create_dataset("huge", shape=(10**7, 10**7), dtype="i1", chunks=(1, 1000))
        path = self.edited("micro", edit)
        self.assert_refused(path, SWEEP_FUNCTIONS, ValueError, "/huge", "GiB")

    def test_datasets_together_beyond_the_memory(self):
        # Each dataset fits the (pretended) memory, all of them together do not.
        with h5py.File(FILES["theory"], "r") as f:
            largest = max(f[p][name].nbytes for p in ("nonadiabatic", "adiabatic_up")
                          for name in f[p])
        original = reader._physical_memory
        reader._physical_memory = lambda: largest
        try:
            self.assert_refused(FILES["theory"], ["open_sweep"], ValueError,
                                "the memory left by the datasets read before it")
        finally:
            reader._physical_memory = original
        self.assertIn("nonadiabatic", reader.open_sweep(FILES["theory"]))


class NotARegularFileTest(HostileCase):
    """A FIFO made every reader function and the plot command wait forever for a writer; the
    reader now opens without blocking and refuses anything but a regular file (OSError)."""

    def test_fifo_directory_device(self):
        fifo = os.path.join(self.tmp.name, "fifo.h5")
        os.mkfifo(fifo)
        directory = os.path.join(self.tmp.name, "dir.h5")
        os.mkdir(directory)
        for path, what in ((fifo, "FIFO"), (directory, "directory"),
                           ("/dev/null", "character device")):
            with self.subTest(file=path):
                self.assert_refused(path, FUNCTIONS, OSError, what, "not a regular file")
        result = plot_command("order", fifo, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn(fifo, result.stderr)
        self.assertIn("FIFO", result.stderr)

    def test_missing_file(self):
        missing = os.path.join(self.tmp.name, "missing.h5")
        self.assert_refused(missing, FUNCTIONS, FileNotFoundError, "no such file")

    def test_not_hdf5(self):
        text = os.path.join(self.tmp.name, "text.h5")
        Path(text).write_text("not HDF5\n")
        self.assert_refused(text, FUNCTIONS, ValueError, "not an HDF5 file")


class WidthTest(HostileCase):
    """Other integer and float widths than cdl writes (int16 status, float32 order parameter):
    the C++ side refuses them; the reader reads them as they are."""

    def test_int16_status_float32_order_parameter(self):
        def edit(f):
            g = f["nonadiabatic"]
            for name, dtype in (("status", np.int16), ("order_parameter", np.float32)):
                values = g[name][()]
                values[0, 1, 2] = 2 if name == "status" else values[0, 1, 2]
                del g[name]
                g.create_dataset(name, data=values.astype(dtype))
                for axis, scale in enumerate(("depth", "run", "sigma")):
                    g[name].dims[axis].attach_scale(g[scale])
        path = self.edited("theory", edit)
        ds = reader.open_sweep(path)["nonadiabatic"]
        self.assertEqual(ds.status.dtype, np.int16)
        self.assertEqual(ds.order_parameter.dtype, np.float32)
        self.assertEqual(ds.order_parameter.dims, ("depth", "run", "sigma"))
        self.assertTrue(np.isnan(ds.order_parameter.values[0, 1, 2]))
        self.assertEqual(int(np.isnan(ds.order_parameter.values).sum()), 1)
        code, stderr = plot_in_process(["order", path, "--out",
                                        os.path.join(self.tmp.name, "x.png")])
        self.assertEqual(code, 0, stderr)


# ----------------------------------------------------------------------------- fuzzing

def variants(data, count, rng):
    """`count` damaged copies of `data`: bits flipped at 1-8 random offsets, every third one cut
    short instead (as test_fuzz_files.py does for the C++ commands)."""
    for k in range(count):
        if k % 3 == 2:
            cut = rng.randrange(len(data))
            yield f"cut at {cut}", data[:cut]
        else:
            damaged = bytearray(data)
            offsets = [rng.randrange(len(data)) for _ in range(rng.randint(1, 8))]
            for offset in offsets:
                damaged[offset] ^= 1 << rng.randrange(8)
            yield f"bits flipped at {offsets}", bytes(damaged)


def outcome(call):
    """'ok', [exception type, message] for ValueError and OSError, else ['BAD', traceback]."""
    try:
        call()
        return "ok"
    except (ValueError, OSError) as error:
        return [type(error).__name__, str(error)]
    except BaseException:   # noqa: B902 - anything else is what the test looks for
        return ["BAD", traceback.format_exc()]


def check_file(path, kinds):
    """What the worker records for one damaged file: each reader function's outcome and the
    plot command's (exit code, stderr) for each figure kind."""
    result = {name: outcome(lambda name=name: getattr(reader, name)(path))
              for name in FUNCTIONS}
    for kind in kinds:
        out = path + f"-{kind}.png"
        plotted = []
        result[f"plot {kind}"] = outcome(lambda: plotted.append(
            plot_in_process([kind, path, "--out", out])))
        if plotted:
            code, stderr = plotted[0]
            result[f"plot {kind}"] = [code, stderr, os.path.exists(out)]
        if os.path.exists(out):
            os.remove(out)
    return result


def worker(kinds, paths):
    """Checks `paths` one after another, printing a JSON line per file; a file that takes more
    than DEADLINE seconds ends the process (faulthandler, exit code 1, 'Timeout' on stderr)."""
    faulthandler.enable()   # a crash of HDF5 prints where it happened
    for path in paths:
        faulthandler.dump_traceback_later(DEADLINE, exit=True)
        result = check_file(path, kinds)
        faulthandler.cancel_dump_traceback_later()
        print(json.dumps([path, result]), flush=True)


def run_workers(kinds, paths):
    """{path: result, or ('crash', signal, stderr) / ('hang', stderr)} for every path: a worker
    process goes through them in order and is restarted after the one it died on."""
    results = {}
    todo = list(paths)
    while todo:
        process = subprocess.run([PYTHON, __file__, "--worker", ",".join(kinds), *todo],
                                 capture_output=True, text=True, env=child_env(),
                                 timeout=DEADLINE * len(todo) + 120)
        for line in process.stdout.splitlines():
            path, result = json.loads(line)
            results[path] = result
        todo = [p for p in todo if p not in results]
        if todo:
            if process.returncode < 0:
                results[todo[0]] = ("crash", -process.returncode, process.stderr[-3000:])
            elif "Timeout" in process.stderr:
                results[todo[0]] = ("hang", process.stderr[-3000:])
            else:
                raise RuntimeError(f"the worker failed ({process.returncode}):\n"
                                   f"{process.stderr[-3000:]}")
            todo = todo[1:]
    return results


class FuzzTest(unittest.TestCase):
    """Real files with flipped bits or cut short (fixed seed): every reader function succeeds or
    raises ValueError / OSError naming the file, never another exception and never hangs; the
    plot command exits 0 (and writes the PNG) or 2 with one stderr line.

    HDF5 1.10 itself crashes (segmentation fault, abort) inside the library on a few damaged
    files, before the reader can answer: such a variant is reported on stderr, not failed,
    as long as they stay below MAX_CRASH_SHARE of the variants."""

    def test_damaged_files(self):
        rng = random.Random(SEED)
        work = tempfile.TemporaryDirectory()
        self.addCleanup(work.cleanup)
        names, chunks = {}, {kind: [] for kind in FILES}
        for kind in FILES:
            data = Path(FILES[kind]).read_bytes()
            for k, (name, damaged) in enumerate(variants(data, VARIANTS[kind], rng)):
                path = os.path.join(work.name, f"{kind}-{k}.h5")
                Path(path).write_bytes(damaged)
                names[path] = (kind, name)
                chunks[kind].append(path)
        # Two workers (2 cores): theory in one, micro and stationary in the other.
        jobs = [(("order",), chunks["theory"]),
                (("order",), chunks["micro"]),
                (("order", "phase-depth"), chunks["stationary"])]
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(lambda job: run_workers(*job), jobs))
        results = {path: result for part in done for path, result in part.items()}
        self.assertEqual(len(results), sum(VARIANTS.values()))
        crashes = []
        refused = 0
        for path, result in sorted(results.items()):
            kind, name = names[path]
            with self.subTest(file=kind, variant=name):
                if isinstance(result, tuple):   # the worker died on this file
                    self.assertEqual(result[0], "crash", f"hung:\n{result[-1]}")
                    crashes.append(f"{kind} {name}: signal {result[1]}")
                    continue
                for call, value in result.items():
                    with self.subTest(call=call):
                        self.check(call, value, path)
                refused += result["open_sweep" if kind != "stationary"
                                   else "open_stationary"] != "ok"
        if crashes:
            print(f"\n  HDF5 crashed on {len(crashes)} of {len(results)} damaged files: "
                  + "; ".join(crashes), file=sys.stderr)
        self.assertLessEqual(len(crashes), MAX_CRASH_SHARE * len(results), crashes)
        # The damage reaches the layout, not only values: many variants are refused.
        self.assertGreater(refused, len(results) // 4)

    def check(self, call, value, path):
        if call.startswith("plot"):
            self.assertIsInstance(value, list, value)
            self.assertNotEqual(value[0], "BAD", value[-1])
            code, stderr, written = value
            self.assertIn(code, (0, 2), stderr)
            self.assertNotIn("Traceback", stderr)
            if code == 2:
                self.assertEqual(len(stderr.splitlines()), 1, stderr)
                self.assertFalse(written)
            else:
                self.assertTrue(written)
        elif value != "ok":
            self.assertNotEqual(value[0], "BAD", value[-1])
            self.assertIn(path, value[1])

    def test_plot_command_on_damaged_files(self):
        """The command itself (not main() in a worker) on a few damaged files: exit 0 or 2 with
        one line, as main() said."""
        rng = random.Random(SEED + 1)
        data = Path(FILES["theory"]).read_bytes()
        paths = []
        for k, (_, damaged) in enumerate(variants(data, 6, rng)):
            paths.append(os.path.join(TMP.name, f"command-{k}.h5"))
            Path(paths[-1]).write_bytes(damaged)

        def run(path):
            return plot_command("order", path, "--out", path + ".png")

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(run, paths))
        for path, result in zip(paths, results):
            with self.subTest(file=path):
                if result.returncode < 0:
                    continue   # HDF5 itself crashed (see FuzzTest)
                self.assertIn(result.returncode, (0, 2), result.stderr)
                self.assertNotIn("Traceback", result.stderr)
                if result.returncode == 2:
                    self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2].split(","), sys.argv[3:])
    else:
        unittest.main()
