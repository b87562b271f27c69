"""Figures of cdl sweeps, as matplotlib Figures (no pyplot state), and the command line

    PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot KIND FILE [--out PNG]
        [--sigma S ...] [--theory STATIONARY.h5] [--protocol P]

KIND:
  order       <m> against sigma per depth, shaded +- se; nonadiabatic as markers, adiabatic
              sweeps as lines (up solid, down dashed)
  loss        the loss (mean over runs) divided by its value at the smallest sigma, per depth
              (log y axis when every ratio is positive and they span more than a factor 50)
  accuracy    micro: test accuracy per unit (solid) and of the plurality vote (dotted) per
              depth, one network trained on all the data (/all_data_accuracy) dashed
  cross       micro: cross_accuracy (unit i on the test class of unit j), averaged over runs,
              at the grid couplings nearest the --sigma values (default: smallest, middle and
              largest), first depth, one panel per coupling
  hysteresis  adiabatic_up and adiabatic_down per depth on one axes
  phase       the (depth, sigma) plane coloured by the mean observable (order parameter, or
              micro accuracy), the located sigma_c1 / sigma_c2 with their bootstrap 95 % CIs,
              and with --theory the N -> infinity sigma_c1 / sigma_c2 of a `cdl stationary` file

Every figure is 8 x 5 inches at 100 dpi (800 x 500 pixels), except `cross` with more than
three panels: 2.7 inches wider per extra panel (4 panels: 1070 x 500). The sigma axis is
logarithmic; when the grid holds sigma = 0 (micro sweeps) it is symmetric-logarithmic, linear
below the smallest positive coupling, so that the uncoupled point shows (the phase diagram and
the estimators use sigma > 0 only).

Bad use (unknown kind, a file that is not a cdl output, a kind the file cannot show, e.g.
`cross` on a theory file) prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

from .reader import open_root, open_stationary, open_sweep, file_kind
from .transitions import observable_name, signal, transitions

KINDS = ("order", "loss", "accuracy", "cross", "hysteresis", "phase")
SIZE = (8.0, 5.0)
DPI = 100
CROSS_PANELS_AT_DEFAULT_WIDTH = 3
CROSS_EXTRA_WIDTH = 2.7
PROTOCOL_STYLE = {  # marker, linestyle
    "nonadiabatic": ("o", "none"),
    "adiabatic_up": (None, "-"),
    "adiabatic_down": (None, "--"),
}
LABEL = {"order_parameter": r"order parameter $\langle m\rangle$", "accuracy": "test accuracy",
         "loss": "loss"}


class PlotError(ValueError):
    """A figure that cannot be drawn from the given file (bad use, exit code 2 in the CLI)."""


# ----------------------------------------------------------------------------- helpers

def _figure(size=SIZE):
    from matplotlib.figure import Figure
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _colour(i):
    from matplotlib import colormaps
    return colormaps["tab10"](i % 10)


def _groups(source):
    if isinstance(source, dict):
        return source
    return open_sweep(source, traces=False)


def _name(source):
    if isinstance(source, dict):
        first = next(iter(source.values()))
        return first.attrs.get("source", "")
    return os.path.basename(os.fspath(source))


def _sweep_groups(source):
    """open_sweep, refusing stationary files with a PlotError."""
    if not isinstance(source, dict) and file_kind(source) == "stationary":
        raise PlotError(f"{source}: a cdl stationary file; give a theory or micro sweep "
                        "(a stationary file goes with --theory to `phase`)")
    return _groups(source)


def _pick(groups, protocol):
    if protocol is None:
        protocol = "nonadiabatic" if "nonadiabatic" in groups else next(iter(groups))
    if protocol not in groups:
        raise PlotError(f"no protocol group {protocol!r} in the file "
                        f"(it has {', '.join(groups)})")
    return protocol, groups[protocol]


def _sigma_axis(ax, sigma):
    """Log sigma axis, or symmetric-log when the grid holds sigma = 0."""
    sigma = np.asarray(sigma, dtype=float)
    positive = sigma[sigma > 0]
    if (sigma <= 0).any() and positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
        ax.set_xlim(-0.2 * float(positive.min()), float(positive.max()) * 1.5)
    else:
        ax.set_xscale("log")
    ax.set_xlabel(r"coupling $\sigma$")


def _curve_points(sigma, uses_symlog):
    """Indices of the plotted points, sorted by sigma (stable)."""
    sigma = np.asarray(sigma, dtype=float)
    keep = np.arange(sigma.size) if uses_symlog else np.flatnonzero(sigma > 0)
    return keep[np.argsort(sigma[keep], kind="stable")]


def _draw_curves(ax, groups, variable_of, normalise=False):
    """One curve per (protocol, depth) of mean +- se; returns the ratios drawn."""
    from matplotlib.lines import Line2D
    all_sigma = np.concatenate([g.sigma.values for g in groups.values()])
    symlog = bool((all_sigma <= 0).any())
    drawn = []
    depths = []
    for protocol, ds in groups.items():
        name = variable_of(ds)
        sig = signal(ds, name)
        order = _curve_points(ds.sigma.values, symlog)
        x = ds.sigma.values[order]
        marker, linestyle = PROTOCOL_STYLE.get(protocol, ("s", ":"))
        for i, depth in enumerate(sig.depth.values):
            y = sig["mean"].values[i, order]
            se = sig["se"].values[i, order]
            if normalise:
                first = _curve_points(ds.sigma.values, True)[0]
                ref = sig["mean"].values[i, first]
                y, se = y / ref, se / abs(ref)
            colour = _colour(int(depth))
            ax.plot(x, y, marker=marker or "", linestyle=linestyle, color=colour, ms=4,
                    lw=1.5)
            band = np.isfinite(se)
            ax.fill_between(x, np.where(band, y - se, np.nan), np.where(band, y + se, np.nan),
                            color=colour, alpha=0.2, lw=0)
            drawn.append(y)
            if depth not in depths:
                depths.append(depth)
    _sigma_axis(ax, all_sigma)
    handles = [Line2D([], [], color=_colour(int(d)), lw=6, alpha=0.6, label=f"D = {int(d)}")
               for d in depths]
    for protocol in groups:
        marker, linestyle = PROTOCOL_STYLE.get(protocol, ("s", ":"))
        handles.append(Line2D([], [], color="0.3", marker=marker or "", linestyle=linestyle,
                              label=protocol.replace("_", " ")))
    ax.legend(handles=handles, fontsize=8, ncol=2)
    return drawn


# ----------------------------------------------------------------------------- kinds

def plot_order(source, protocol=None):
    groups = _sweep_groups(source)
    if protocol is not None:
        groups = {protocol: _pick(groups, protocol)[1]}
    fig = _figure()
    ax = fig.add_subplot()
    _draw_curves(ax, groups, lambda ds: "order_parameter")
    ax.set_ylabel(LABEL["order_parameter"])
    ax.set_title(f"{_name(source)}: order parameter, mean $\\pm$ se over realizations",
                 fontsize=10)
    return fig


def plot_loss(source, protocol=None):
    groups = _sweep_groups(source)
    if protocol is not None:
        groups = {protocol: _pick(groups, protocol)[1]}
    if not all("loss" in ds for ds in groups.values()):
        raise PlotError("the file has no `loss` dataset")
    fig = _figure()
    ax = fig.add_subplot()
    drawn = _draw_curves(ax, groups, lambda ds: "loss", normalise=True)
    values = np.concatenate([d[np.isfinite(d)] for d in drawn]) if drawn else np.array([])
    if values.size and (values > 0).all() and values.max() / values.min() > 50:
        ax.set_yscale("log")
    ax.set_ylabel(r"loss / loss at the smallest $\sigma$")
    ax.set_title(f"{_name(source)}: loss relative to the weakest coupling", fontsize=10)
    return fig


def plot_accuracy(source, protocol=None):
    groups = _sweep_groups(source)
    protocol, ds = _pick(groups, protocol)
    if ds.attrs.get("subcommand") != "micro":
        raise PlotError("`accuracy` needs a cdl micro file "
                        f"(this one is from cdl {ds.attrs.get('subcommand')})")
    if "accuracy" not in ds or not np.isfinite(ds.accuracy.values).any():
        raise PlotError("this micro file has no accuracy (a regression task)")
    from matplotlib.lines import Line2D
    reference = None
    if not isinstance(source, dict):
        root = open_root(source)
        if "all_data_accuracy" in root:
            reference = root["all_data_accuracy"].mean("run")
    fig = _figure()
    ax = fig.add_subplot()
    sigma = ds.sigma.values
    order = _curve_points(sigma, bool((sigma <= 0).any()))
    acc = signal(ds, "accuracy")
    vote = signal(ds, "accuracy_vote") if "accuracy_vote" in ds else None
    for i, depth in enumerate(acc.depth.values):
        colour = _colour(int(depth))
        y, se = acc["mean"].values[i, order], acc["se"].values[i, order]
        ax.plot(sigma[order], y, "o-", color=colour, ms=4)
        ax.fill_between(sigma[order], y - se, y + se, color=colour, alpha=0.2, lw=0)
        if vote is not None:
            ax.plot(sigma[order], vote["mean"].values[i, order], "s:", color=colour, ms=3,
                    mfc="none")
        if reference is not None and depth in reference.depth.values:
            ax.axhline(float(reference.sel(depth=depth)), color=colour, ls="--", lw=1)
    _sigma_axis(ax, sigma)
    ax.set_ylabel("test accuracy")
    handles = [Line2D([], [], color=_colour(int(d)), lw=6, alpha=0.6, label=f"D = {int(d)}")
               for d in acc.depth.values]
    handles += [Line2D([], [], color="0.3", marker="o", label="per unit (mean $\\pm$ se)"),
                Line2D([], [], color="0.3", marker="s", ls=":", mfc="none", label="vote")]
    if reference is not None:
        handles.append(Line2D([], [], color="0.3", ls="--", label="one network, all data"))
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_title(f"{_name(source)}: test accuracy, protocol {protocol}", fontsize=10)
    return fig


def _nearest(sigma, wanted):
    sigma = np.asarray(sigma, dtype=float)
    if wanted > 0 and (sigma > 0).any():
        with np.errstate(divide="ignore"):
            distance = np.where(sigma > 0, np.abs(np.log10(sigma) - np.log10(wanted)), np.inf)
    else:
        distance = np.abs(sigma - wanted)
    return int(np.argmin(distance))


def plot_cross(source, sigmas=None, protocol=None):
    groups = _sweep_groups(source)
    protocol, ds = _pick(groups, protocol)
    if "cross_accuracy" not in ds:
        raise PlotError("`cross` needs a cdl micro file with cross_accuracy "
                        f"(this one is from cdl {ds.attrs.get('subcommand')})")
    sigma = ds.sigma.values
    if not sigmas:
        order = np.argsort(sigma, kind="stable")
        indices = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    else:
        indices = [_nearest(sigma, float(s)) for s in sigmas]
    n = len(indices)
    width = SIZE[0] + CROSS_EXTRA_WIDTH * max(0, n - CROSS_PANELS_AT_DEFAULT_WIDTH)
    fig = _figure((width, SIZE[1]))
    axes = fig.subplots(1, n, squeeze=False)[0]
    depth = ds.depth.values[0]
    cross = ds.cross_accuracy.isel(depth=0)
    from matplotlib.ticker import MaxNLocator
    image = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ax, k in zip(axes, indices):
            matrix = np.nanmean(cross.isel(sigma=k).values, axis=0)
            image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis", origin="upper")
            ax.set_title(f"$\\sigma$ = {sigma[k]:.3g}", fontsize=10)
            ax.set_xlabel("test class of unit j")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_ylabel("unit i")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="accuracy of unit i")
    fig.suptitle(f"{_name(source)}: cross accuracy, D = {int(depth)}, mean over "
                 f"{ds.sizes['run']} realizations, {protocol}", fontsize=10)
    return fig


def plot_hysteresis(source):
    groups = _sweep_groups(source)
    if "adiabatic_up" not in groups or "adiabatic_down" not in groups:
        raise PlotError("`hysteresis` needs both adiabatic_up and adiabatic_down groups "
                        f"(the file has {', '.join(groups)})")
    pair = {p: groups[p] for p in ("adiabatic_up", "adiabatic_down")}
    name = observable_name(pair["adiabatic_up"])
    fig = _figure()
    ax = fig.add_subplot()
    _draw_curves(ax, pair, lambda ds: name)
    ax.set_ylabel(LABEL.get(name, name))
    ax.set_title(f"{_name(source)}: adiabatic sweeps up (solid) and down (dashed)", fontsize=10)
    return fig


def _edges(values):
    """Cell edges in log10 around sorted positive values."""
    x = np.log10(values)
    if x.size == 1:
        return 10.0 ** np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[:-1] + x[1:]) / 2
    return 10.0 ** np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def plot_phase(source, theory=None, protocol=None, bootstrap=1000):
    groups = _sweep_groups(source)
    protocol, ds = _pick(groups, protocol)
    critical = None
    if theory is not None:
        if file_kind(theory) != "stationary":
            raise PlotError(f"--theory {theory}: not a cdl stationary file")
        critical = open_stationary(theory)["critical"]
    result = transitions(ds, B=bootstrap)
    name = result.attrs["observable"]
    sigma = ds.sigma.values
    positive = np.flatnonzero(sigma > 0)
    unique = np.unique(sigma[positive])
    if unique.size == 0:
        raise PlotError("no sigma > 0 in the file")
    depths = result.depth.values
    colour = np.full((depths.size, unique.size), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, s in enumerate(unique):
            colour[:, j] = np.nanmean(result["mean"].values[:, sigma == s], axis=1)
    fig = _figure()
    ax = fig.add_subplot()
    yedges = np.concatenate([depths - 0.5, [depths[-1] + 0.5]]) if depths.size else [0, 1]
    if depths.size > 1 and not np.all(np.diff(depths) == 1):
        yedges = np.arange(depths.size + 1) - 0.5
        rows = np.arange(depths.size)
        ax.set_yticks(rows, [str(int(d)) for d in depths])
    else:
        rows = depths
        ax.set_yticks(rows)
    mesh = ax.pcolormesh(_edges(unique), yedges, colour, cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label=f"mean {LABEL.get(name, name)}")
    ax.set_xscale("log")
    ax.set_xlabel(r"coupling $\sigma$")
    ax.set_ylabel("depth D")
    styles = {"sigma_c1": ("o", "white", r"$\sigma_{c1}$ (95 % CI)"),
              "sigma_c2": ("s", "tab:red", r"$\sigma_{c2}$ (95 % CI)")}
    for label, (marker, face, text) in styles.items():
        value = result[label].values
        bounds = result.get(label + "_ci")
        if bounds is not None:
            low, high = bounds.sel(bound="low").values, bounds.sel(bound="high").values
            err = np.vstack([value - low, high - value])
            err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
        else:
            err = None
        ok = np.isfinite(value)
        if ok.any():
            ax.errorbar(value[ok], np.asarray(rows)[ok], xerr=None if err is None else err[:, ok],
                        fmt=marker, mfc=face, mec="black", ecolor="black", capsize=4, ms=8,
                        label=text)
    if critical is not None:
        row_of = dict(zip(depths.tolist(), np.asarray(rows).tolist()))
        for label, ls, marker, face, text in (
                ("sigma_c1", ":", "*", "orange", r"$\sigma_{c1}$, N $\to\infty$ (stationary)"),
                ("sigma_c2", "-.", "X", "violet", r"$\sigma_{c2}$, N $\to\infty$ (stationary)")):
            xs, ys = [], []
            for d, s in zip(critical.depth.values.tolist(), critical[label].values):
                if d in row_of and np.isfinite(s):
                    xs.append(s)
                    ys.append(row_of[d])
            if xs:
                ax.plot(xs, ys, ls=ls, marker=marker, color=face, mec="black", ms=12, lw=1.5,
                        label=text)
    ax.set_xlim(_edges(unique)[0], _edges(unique)[-1])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", framealpha=0.8)
    ax.set_title(f"{_name(source)}: {protocol}, colour = mean {name.replace('_', ' ')}",
                 fontsize=10)
    return fig


# ----------------------------------------------------------------------------- CLI

def save(fig, out):
    fig.savefig(out, dpi=DPI, format="png")
    return out


def draw(kind, path, sigmas=None, theory=None, protocol=None):
    """The Figure of `kind` for the sweep file `path` (PlotError when it does not fit)."""
    kind_of_file = file_kind(path)   # ValueError for non-cdl files
    if kind_of_file == "stationary":
        raise PlotError(f"{path}: a cdl stationary file; `{kind}` needs a theory or micro sweep "
                        "(give a stationary file to `phase --theory`)")
    if kind in ("accuracy", "cross") and kind_of_file != "micro":
        raise PlotError(f"`{kind}` needs a cdl micro file ({path} is from cdl {kind_of_file})")
    if sigmas and kind != "cross":
        raise PlotError("--sigma is for `cross` only")
    if theory is not None and kind != "phase":
        raise PlotError("--theory is for `phase` only")
    if kind == "order":
        return plot_order(path, protocol)
    if kind == "loss":
        return plot_loss(path, protocol)
    if kind == "accuracy":
        return plot_accuracy(path, protocol)
    if kind == "cross":
        return plot_cross(path, sigmas, protocol)
    if kind == "hysteresis":
        return plot_hysteresis(path)
    if kind == "phase":
        return plot_phase(path, theory, protocol)
    raise PlotError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def main(argv=None):
    kinds = __doc__[__doc__.index("KIND:"):__doc__.index("Bad use")].rstrip()
    parser = _Parser(prog="python3 -m cdl_analysis.plot",
                     description="Draw a figure of a cdl sweep file as a PNG and print its path.",
                     epilog=kinds, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", metavar="KIND", choices=KINDS,
                        help="one of " + ", ".join(KINDS))
    parser.add_argument("file", metavar="FILE", help="a cdl theory or micro HDF5 file")
    parser.add_argument("--out", help="PNG to write (default: FILE without .h5 + -KIND.png)")
    parser.add_argument("--sigma", type=float, nargs="+", metavar="S",
                        help="cross: couplings to show (nearest grid points)")
    parser.add_argument("--theory", metavar="STATIONARY.h5",
                        help="phase: a cdl stationary file whose /critical couplings to overlay")
    parser.add_argument("--protocol", help="protocol group (accuracy, cross, phase default: "
                        "nonadiabatic; order, loss default: all)")
    args = parser.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    out = args.out or os.path.splitext(args.file)[0] + f"-{args.kind}.png"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fig = draw(args.kind, args.file, args.sigma, args.theory, args.protocol)
            save(fig, out)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"{parser.prog}: error: {message}\n")
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
