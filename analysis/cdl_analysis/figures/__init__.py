"""Figures of cdl sweeps, as matplotlib Figures (no pyplot state), and the command line

    PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot KIND FILE [FILE ...] [--out PNG]
        [--sigma S ...] [--theory STATIONARY.h5] [--limit NINF.h5] [--protocol P]

(installed: `cdl-plot`, the same command). Each figure kind is one module of this package
with its plot_* function and a FIGURE record (`common.FigureKind`: the kind's name, its entry
in --help, the files and options it takes and the function that draws it from the command
line): order.py, loss.py, accuracy.py, cross.py, hysteresis.py, phase.py, horizons.py,
phase_depth.py, schemes.py, communication.py; common.py holds what they share.

FIGURE_KINDS lists the records in the order --help shows them. The command's choices of KIND,
its --help (the KIND list, which kinds take which files and options), the refusal of a file
or option a kind does not take, and the dispatch all come from it: a new kind is a module
with its plot function and FIGURE, added to FIGURE_KINDS.

FIGURE_SIZES (printed under the KIND list by --help) gives the figure sizes and the sigma axis.

Bad use (unknown kind, a file that is not a cdl output, a kind the file cannot show, e.g.
`cross` on a theory file, a sweep where a stationary file belongs or the other way round,
`schemes` / `communication` on a theory or stationary file, a task without accuracy or files
without a depth in common) prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from ..reader import file_kind
from . import (accuracy, communication, cross, horizons, hysteresis, loss, order, phase,
               phase_depth, schemes)
from .accuracy import plot_accuracy
from .common import DPI, MICRO, SIZE, STATIONARY, FigureKind, FigureRequest, PlotError
from .communication import plot_communication
from .cross import plot_cross
from .horizons import horizon_mean, horizon_windows, plot_horizons
from .hysteresis import plot_hysteresis
from .loss import plot_loss
from .order import plot_order
from .phase import plot_phase
from .phase_depth import plot_phase_depth
from .schemes import plot_schemes, scheme_of

__all__ = ["FIGURE_KINDS", "KINDS", "FigureKind", "FigureRequest", "PlotError", "DPI", "SIZE",
           "plot_order", "plot_loss", "plot_accuracy", "plot_cross", "plot_hysteresis",
           "plot_phase", "plot_horizons", "plot_phase_depth", "plot_schemes",
           "plot_communication", "horizon_mean", "horizon_windows", "scheme_of", "draw", "save",
           "main"]

FIGURE_KINDS = (order.FIGURE, loss.FIGURE, accuracy.FIGURE, cross.FIGURE, hysteresis.FIGURE,
                phase.FIGURE, horizons.FIGURE, phase_depth.FIGURE, schemes.FIGURE,
                communication.FIGURE)
KIND_BY_NAME = {kind.name: kind for kind in FIGURE_KINDS}
KINDS = tuple(KIND_BY_NAME)

# The options only some kinds take (FigureKind.options), in the order --help lists them, with
# their argparse settings; their help text comes from the kinds that take them.
KIND_OPTIONS = {
    "sigma": dict(type=float, nargs="+", metavar="S"),
    "theory": dict(metavar="STATIONARY.h5"),
    "limit": dict(metavar="NINF.h5"),
}
PROTOCOL_DEFAULTS = ("nonadiabatic", "all")   # --protocol's help names the kinds in this order

FIGURE_SIZES = """\
Every figure is 8 x 5 inches at 100 dpi (800 x 500 pixels), except `cross` with more than
three panels: 2.7 inches wider per extra panel (4 panels: 1070 x 500). The sigma axis is
logarithmic; when the grid holds sigma = 0 (micro sweeps) it is symmetric-logarithmic, linear
below the smallest positive coupling, so that the uncoupled point shows (the phase diagram and
the estimators use sigma > 0 only)."""

SUMMARY_INDENT = " " * 14   # the KIND list: the summaries start in this column


# ----------------------------------------------------------------------------- from the registry

def _listed(items, conjunction="and"):
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _per_kind(text_of):
    """'kind, kind: text; kind: text': text_of(kind) for the kinds that have one (not None),
    the kinds with the same text together, in registry order."""
    kinds_of_text = {}
    for kind in FIGURE_KINDS:
        text = text_of(kind)
        if text is not None:
            kinds_of_text.setdefault(text, []).append(kind.name)
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in kinds_of_text.items())


def kind_list():
    """The KIND list of --help: each kind's summary, in registry order, and FIGURE_SIZES."""
    lines = ["KIND:"]
    for kind in FIGURE_KINDS:
        first, *rest = kind.summary.split("\n")
        name = f"  {kind.name} "   # a longer name gets a line of its own
        name = (name.ljust(len(SUMMARY_INDENT)) if len(name) <= len(SUMMARY_INDENT)
                else f"  {kind.name}\n{SUMMARY_INDENT}")
        lines.append(name + first)
        lines += [SUMMARY_INDENT + line for line in rest]
    return "\n".join(lines) + "\n\n" + FIGURE_SIZES


def _protocol_help():
    """--protocol's help: the kinds by the group they draw without it (PROTOCOL_DEFAULTS)."""
    defaults = [", ".join(kind.name for kind in FIGURE_KINDS if kind.protocol_default == default)
                + f" default: {default}" for default in PROTOCOL_DEFAULTS]
    return f"protocol group ({'; '.join(defaults)})"


def _given(value):
    """An option given: not None, not an empty list."""
    return value is not None and not (isinstance(value, (list, tuple)) and len(value) == 0)


def _check_files(figure, request, kind_of_file):
    """PlotError when FILE (of kind `kind_of_file`) or the SWEEP files do not fit `figure`.
    The order of the checks decides which message a doubly wrong command line gets."""
    path, name = request.file, figure.name
    if figure.first_file == STATIONARY:
        if kind_of_file != "stationary":
            raise PlotError(f"`{name}` needs a cdl stationary file first ({path} is from "
                            f"cdl {kind_of_file}); the sweeps follow it")
    elif figure.first_file == MICRO and figure.sweeps_help is not None:   # all micro files
        if kind_of_file != "micro":
            raise PlotError(f"`{name}` needs cdl micro files ({path} is from cdl "
                            f"{kind_of_file})")
    elif kind_of_file == "stationary":
        places = ([f"`{kind.name} --theory`" for kind in FIGURE_KINDS if "theory" in kind.options]
                  + [f"first to `{kind.name}`" for kind in FIGURE_KINDS
                     if kind.first_file == STATIONARY])
        raise PlotError(f"{path}: a cdl stationary file; `{name}` needs a theory or micro sweep "
                        f"(give a stationary file to {_listed(places, 'or')})")
    if request.sweeps and figure.sweeps_help is None:
        several = [f"`{kind.name}`" for kind in FIGURE_KINDS if kind.sweeps_help is not None]
        raise PlotError(f"`{name}` takes one file (only {_listed(several)} take several)")
    if figure.first_file == MICRO and kind_of_file != "micro":
        raise PlotError(f"`{name}` needs a cdl micro file ({path} is from cdl {kind_of_file})")


def _check_options(figure, request):
    """PlotError for a kind-specific option that `figure` does not take."""
    for option in KIND_OPTIONS:
        if _given(getattr(request, option)) and option not in figure.options:
            takers = [f"`{kind.name}`" for kind in FIGURE_KINDS if option in kind.options]
            raise PlotError(f"--{option} is for {_listed(takers)} only")


# ----------------------------------------------------------------------------- CLI

def save(fig, out):
    fig.savefig(out, dpi=DPI, format="png")
    return out


def draw(kind, path, sigmas=None, theory=None, protocol=None, limit=None, sweeps=()):
    """The Figure of `kind` for the file `path` (a sweep; for `phase-depth` a stationary file,
    followed by the `sweeps`; for `schemes` and `communication` the first of the micro files,
    the others in `sweeps`); PlotError when it does not fit."""
    kind_of_file = file_kind(path)   # ValueError for non-cdl files
    if kind not in KIND_BY_NAME:
        raise PlotError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    figure = KIND_BY_NAME[kind]
    request = FigureRequest(file=path, sweeps=sweeps, sigma=sigmas, theory=theory, limit=limit,
                            protocol=protocol)
    _check_files(figure, request, kind_of_file)
    _check_options(figure, request)
    return figure.draw(request)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def main(argv=None):
    # Installed (pyproject.toml), the command is cdl-plot.
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = _Parser(prog="cdl-plot" if invoked == "cdl-plot" else "python3 -m cdl_analysis.plot",
                     description="Draw a figure of a cdl sweep file as a PNG and print its path.",
                     epilog=kind_list(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", metavar="KIND", choices=KINDS, help="one of " + ", ".join(KINDS))
    parser.add_argument("file", metavar="FILE", help="a cdl theory or micro HDF5 file "
                        f"({_per_kind(lambda kind: kind.file_help)})")
    parser.add_argument("sweeps", metavar="SWEEP", nargs="*",
                        help=_per_kind(lambda kind: kind.sweeps_help))
    parser.add_argument("--out", help="PNG to write (default: FILE without .h5 + -KIND.png)")
    for option, settings in KIND_OPTIONS.items():
        parser.add_argument(f"--{option}", **settings,
                            help=_per_kind(lambda kind: kind.options.get(option)))
    parser.add_argument("--protocol", help=_protocol_help())
    # intermixed: the sweeps of phase-depth may come after options such as --out
    args = parser.parse_intermixed_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    out = args.out or os.path.splitext(args.file)[0] + f"-{args.kind}.png"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fig = draw(args.kind, args.file, args.sigma, args.theory, args.protocol, args.limit,
                       args.sweeps)
            save(fig, out)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"{parser.prog}: error: {message}\n")
        return 2
    print(out)
    return 0
