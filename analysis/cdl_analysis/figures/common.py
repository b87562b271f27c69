"""What the figure kinds share: the record each kind module registers (`FigureKind`), the
parsed command line a kind draws from (`FigureRequest`), the figure size, opening the files
(sweeps, stationary files) with a `PlotError` for the wrong kind of file, the sigma axis and
the mean +- se curves of `order`, `loss` and `hysteresis`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ..reader import STATUS_DONE, file_kind, open_stationary, open_sweep
from ..transitions import signal

SIZE = (8.0, 5.0)
DPI = 100
PANEL_COLUMNS = 3   # horizons, schemes, communication: at most this many depth panels per row
PROTOCOL_STYLE = {  # marker, linestyle
    "nonadiabatic": ("o", "none"),
    "adiabatic_up": (None, "-"),
    "adiabatic_down": (None, "--"),
}
LABEL = {"order_parameter": r"order parameter $\langle m\rangle$", "accuracy": "test accuracy",
         "loss": "loss"}

# What FILE (the first positional file) must be for a kind.
SWEEP = "sweep"              # a cdl theory or micro sweep; a stationary file is refused
MICRO = "micro"              # a cdl micro sweep
STATIONARY = "stationary"    # a cdl stationary file


class PlotError(ValueError):
    """A figure that cannot be drawn from the given file (bad use, exit code 2 in the CLI)."""


@dataclass(frozen=True)
class FigureRequest:
    """The command line a kind draws from: FILE, the SWEEP files after it and the options
    (None when not given)."""
    file: str
    sweeps: Sequence[str] = ()
    sigma: Optional[Sequence[float]] = None
    theory: Optional[str] = None
    limit: Optional[str] = None
    protocol: Optional[str] = None


@dataclass(frozen=True)
class FigureKind:
    """One figure kind of the command line, as its module registers it (`FIGURE`).

    name: KIND on the command line.
    summary: its entry in the KIND list of --help, lines broken as they print.
    draw: FigureRequest -> matplotlib Figure.
    first_file: what FILE must be: SWEEP, MICRO or STATIONARY.
    file_help: FILE in --help when it is not a theory or micro sweep.
    sweeps_help: the SWEEP files after FILE in --help; None: the kind takes FILE only.
    options: the options only some kinds take ("sigma", "theory", "limit") that this one
        accepts, each with its --help text for this kind; the others are refused.
    protocol_default: the group drawn without --protocol, for --help: "nonadiabatic" (else
        the first group), "all", or None when the kind ignores --protocol.
    """
    name: str
    summary: str
    draw: Callable[[FigureRequest], object]
    first_file: str = SWEEP
    file_help: Optional[str] = None
    sweeps_help: Optional[str] = None
    options: dict = field(default_factory=dict)
    protocol_default: Optional[str] = "nonadiabatic"


# ----------------------------------------------------------------------------- figures

def new_figure(size=SIZE):
    from matplotlib.figure import Figure
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def tab_colour(i):
    """Colour i (a depth, or a file's position) of matplotlib's tab10 cycle."""
    from matplotlib import colormaps
    return colormaps["tab10"](i % 10)


# ----------------------------------------------------------------------------- files

def protocol_groups(source):
    """{protocol: Dataset} of a sweep file, or `source` itself when it is that dict already."""
    if isinstance(source, dict):
        return source
    return open_sweep(source, traces=False)


def file_label(source):
    """The file name shown in titles and legends (a dict: its `source` attribute)."""
    if isinstance(source, dict):
        first = next(iter(source.values()))
        return first.attrs.get("source", "")
    return os.path.basename(os.fspath(source))


def sweep_groups(source):
    """open_sweep, refusing stationary files with a PlotError."""
    if not isinstance(source, dict) and file_kind(source) == "stationary":
        raise PlotError(f"{source}: a cdl stationary file; give a theory or micro sweep "
                        "(a stationary file goes to `phase --theory`, `horizons --theory` or "
                        "first to `phase-depth`)")
    return protocol_groups(source)


def pick_protocol(groups, protocol):
    """(name, Dataset) of the protocol group: `protocol`, else nonadiabatic when the file has
    it, else the file's first group; PlotError when the file lacks it."""
    if protocol is None:
        protocol = "nonadiabatic" if "nonadiabatic" in groups else next(iter(groups))
    if protocol not in groups:
        raise PlotError(f"no protocol group {protocol!r} in the file "
                        f"(it has {', '.join(groups)})")
    return protocol, groups[protocol]


def stationary_groups(source, what):
    """open_stationary, refusing sweep files with a PlotError naming the argument `what`."""
    if isinstance(source, dict):
        return source
    kind = file_kind(source)
    if kind != "stationary":
        raise PlotError(f"{what} {source}: not a cdl stationary file (it is from cdl {kind})")
    return open_stationary(source)


def realization_mean(ds, name):
    """Mean over the realizations (axis `run`) of `name`, over the points with status 0 only:
    [depth, sigma, ...] (NaN where no realization is done)."""
    var = ds[name].transpose("depth", "run", "sigma", ...)
    values = np.asarray(var.values, dtype=float)
    if "status" in ds:
        done = ds["status"].transpose("depth", "run", "sigma").values == STATUS_DONE
        values = np.where(done.reshape(done.shape + (1,) * (values.ndim - 3)), values, np.nan)
    valid = np.isfinite(values)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, values, 0.0).sum(axis=1) / count
    return np.where(count > 0, mean, np.nan)


# ----------------------------------------------------------------------------- sigma axis

def sigma_axis(ax, sigma):
    """Log sigma axis, or symmetric-log when the grid holds sigma = 0."""
    sigma = np.asarray(sigma, dtype=float)
    positive = sigma[sigma > 0]
    if (sigma <= 0).any() and positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
        ax.set_xlim(-0.2 * float(positive.min()), float(positive.max()) * 1.5)
    else:
        ax.set_xscale("log")
    ax.set_xlabel(r"coupling $\sigma$")


def plotted_points(sigma, uses_symlog):
    """Indices of the plotted points, sorted by sigma (stable): all of them on a symmetric-log
    axis, those with sigma > 0 on a log axis."""
    sigma = np.asarray(sigma, dtype=float)
    keep = np.arange(sigma.size) if uses_symlog else np.flatnonzero(sigma > 0)
    return keep[np.argsort(sigma[keep], kind="stable")]


def draw_mean_curves(ax, groups, variable_of, normalise=False):
    """One curve per (protocol, depth) of the realization mean +- se of the variable
    `variable_of(Dataset)` names (normalise: divided by its value at the smallest sigma);
    returns the curves' y values."""
    from matplotlib.lines import Line2D
    all_sigma = np.concatenate([g.sigma.values for g in groups.values()])
    symlog = bool((all_sigma <= 0).any())
    drawn = []
    depths = []
    for protocol, ds in groups.items():
        name = variable_of(ds)
        sig = signal(ds, name)
        order = plotted_points(ds.sigma.values, symlog)
        x = ds.sigma.values[order]
        marker, linestyle = PROTOCOL_STYLE.get(protocol, ("s", ":"))
        for i, depth in enumerate(sig.depth.values):
            y = sig["mean"].values[i, order]
            se = sig["se"].values[i, order]
            if normalise:
                first = plotted_points(ds.sigma.values, True)[0]
                ref = sig["mean"].values[i, first]
                y, se = y / ref, se / abs(ref)
            colour = tab_colour(int(depth))
            ax.plot(x, y, marker=marker or "", linestyle=linestyle, color=colour, ms=4,
                    lw=1.5)
            band = np.isfinite(se)
            ax.fill_between(x, np.where(band, y - se, np.nan), np.where(band, y + se, np.nan),
                            color=colour, alpha=0.2, lw=0)
            drawn.append(y)
            if depth not in depths:
                depths.append(depth)
    sigma_axis(ax, all_sigma)
    handles = [Line2D([], [], color=tab_colour(int(d)), lw=6, alpha=0.6, label=f"D = {int(d)}")
               for d in depths]
    for protocol in groups:
        marker, linestyle = PROTOCOL_STYLE.get(protocol, ("s", ":"))
        handles.append(Line2D([], [], color="0.3", marker=marker or "", linestyle=linestyle,
                              label=protocol.replace("_", " ")))
    ax.legend(handles=handles, fontsize=8, ncol=2)
    return drawn
