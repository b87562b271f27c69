"""Figures of cdl sweeps, as matplotlib Figures (no pyplot state), and the command line

    PYTHONPATH=analysis /usr/bin/python3 -m cdl_analysis.plot KIND FILE [FILE ...] [--out PNG]
        [--sigma S ...] [--theory STATIONARY.h5] [--limit NINF.h5] [--protocol P]

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
  horizons    SWEEP [--theory STATIONARY.h5] [--limit NINF.h5]: <m> (mean over the done
              realizations of order_parameter_horizon) against sigma, one panel per depth, one
              curve per observation horizon (colour gradient, "t = h"); --limit: the N -> infinity
              curves of a `cdl theory --units inf` file at the horizons it shares, dashed in the
              same colours (its order_parameter, grey, if it shares none); --theory: the
              stationary branches of a `cdl stationary` file (ordered and symmetric: stable
              solid, unstable dashed, black; history thin grey; folds x)
  phase-depth STATIONARY [SWEEP ...]: the (depth, sigma) plane: the stationary sigma_c1,
              sigma_c2, sigma_coexistence against depth (lines with markers) and the folds (x);
              per sweep and horizon the ordered window [sigma_c1, sigma_c2] located on the
              realization mean of order_parameter_horizon, a vertical bar beside each depth
              (coloured by horizon; no bar where either end is not found)
  schemes     MICRO [MICRO ...] (typically one cdl micro file per --scheme): test accuracy
              (realization mean over the done points, shaded +- se) against sigma, one curve
              per file labelled by its scheme (the `scheme = ...` line of the root attribute
              `config`, else the file name), one panel per depth that every file holds
  communication
              MICRO [MICRO ...]: test accuracy (realization mean) against `communication`
              (parameters sent per unit per step, realization mean; log axis), one curve per
              file in sigma order (marker size grows with sigma), one panel per common depth:
              the accuracy each scheme reaches per unit of communication

Every figure is 8 x 5 inches at 100 dpi (800 x 500 pixels), except `cross` with more than
three panels: 2.7 inches wider per extra panel (4 panels: 1070 x 500). The sigma axis is
logarithmic; when the grid holds sigma = 0 (micro sweeps) it is symmetric-logarithmic, linear
below the smallest positive coupling, so that the uncoupled point shows (the phase diagram and
the estimators use sigma > 0 only).

Bad use (unknown kind, a file that is not a cdl output, a kind the file cannot show, e.g.
`cross` on a theory file, a sweep where a stationary file belongs or the other way round,
`schemes` / `communication` on a theory or stationary file, a task without accuracy or files
without a depth in common) prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings

import numpy as np

from .reader import STATUS_DONE, open_root, open_stationary, open_sweep, file_kind
from .transitions import locate, observable_name, signal, transitions

KINDS = ("order", "loss", "accuracy", "cross", "hysteresis", "phase", "horizons", "phase-depth",
         "schemes", "communication")
MULTI_FILE_KINDS = ("schemes", "communication")   # every positional file is a micro sweep
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
HORIZON_COLOURS = "viridis"   # horizons: early (dark) to late (light)
PANEL_COLUMNS = 3             # horizons: at most this many depth panels per row
LEGEND_WIDTH = 0.8            # horizons: the legend column, in panel widths
SAME_HORIZON_RTOL = 1e-9      # horizons --limit: sample times computed in two runs
WINDOW_STYLES = ("-", "--", ":", "-.")   # phase-depth: one per sweep
SCHEME_LINE = re.compile(r"^\s*scheme\s*=\s*(\S.*?)\s*$", re.MULTILINE)   # in `config`
MARKER_SIZES = (9.0, 49.0)    # communication: marker area at the smallest and largest sigma
SCHEME_MARKERS = "osD^vP*X"   # schemes, communication: one per file (identical curves show)
COMMUNICATION_LABEL = "parameters sent per unit per step"
SCHEME_LEGEND_FRACTION = 0.22  # schemes, communication: the legend column, of the width


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
                        "(a stationary file goes to `phase --theory`, `horizons --theory` or "
                        "first to `phase-depth`)")
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


# ----------------------------------------------------------------------------- horizons

def _done_mean(ds, name):
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


def horizon_mean(ds):
    """(horizons, mean [depth, sigma, horizon]): the realization mean (done points) of
    `order_parameter_horizon`. A file without horizons gives its `order_parameter`, the end of
    the run, as the one horizon t_end (the last sample time)."""
    if "order_parameter_horizon" in ds and "horizon" in ds.coords:
        return np.asarray(ds.horizon.values, dtype=float), _done_mean(ds, "order_parameter_horizon")
    end = float(ds.time.values[-1]) if "time" in ds.coords and ds.sizes["time"] else np.nan
    return np.array([end]), _done_mean(ds, "order_parameter")[..., None]


def horizon_windows(ds):
    """(horizons, sigma_c1, sigma_c2), the two [depth, horizon]: the ordered window that
    transitions.locate finds on the realization mean at each horizon (NaN where not found)."""
    horizons, mean = horizon_mean(ds)
    c1, c2 = locate(ds.sigma.values, np.moveaxis(mean, 1, -1))   # batch over (depth, horizon)
    return horizons, np.asarray(c1), np.asarray(c2)


def _horizon_colour(k, count):
    """Colour of the k-th of `count` horizons on the gradient."""
    from matplotlib import colormaps
    return colormaps[HORIZON_COLOURS](0.1 + 0.75 * k / max(count - 1, 1))


def _horizon_label(ds, h):
    """'t = h' (theory: integration time) or 'step = h' (micro: coupled steps)."""
    return f"{'step' if ds.attrs.get('subcommand') == 'micro' else 't'} = {h:g}"


def _stationary_groups(source, what):
    """open_stationary, refusing sweep files with a PlotError naming the argument `what`."""
    if isinstance(source, dict):
        return source
    kind = file_kind(source)
    if kind != "stationary":
        raise PlotError(f"{what} {source}: not a cdl stationary file (it is from cdl {kind})")
    return open_stationary(source)


def _limit_groups(source):
    """open_sweep of an N -> infinity file (`cdl theory --units inf`), else a PlotError."""
    name = "" if isinstance(source, dict) else f" {source}"
    if not isinstance(source, dict):
        kind = file_kind(source)
        if kind != "theory":
            raise PlotError(f"--limit{name}: not an N -> infinity sweep (it is from cdl {kind}; "
                            "give a cdl theory --units inf file)")
        source = open_sweep(source, traces=False)
    if not all("population" in ds.attrs for ds in source.values()):
        raise PlotError(f"--limit{name}: not an N -> infinity sweep (a finite-N file; give a "
                        "cdl theory --units inf file)")
    return source


def _runs(flags):
    """[(start, stop)] of the runs of equal values in a 1-D array."""
    edges = np.flatnonzero(np.diff(np.asarray(flags, dtype=int))) + 1
    bounds = np.concatenate([[0], edges, [len(flags)]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _draw_stationary(ax, stationary, depth):
    """The stationary branches of one depth, each in its continuation order (sigma may fold
    back): ordered and symmetric stable solid, unstable dashed, history thin grey, folds x."""
    for name in ("ordered", "symmetric"):
        branch = stationary.get(name)
        if branch is None:
            continue
        at = branch.depth.values == depth
        if not at.any():
            continue
        sigma, m = branch.sigma.values[at], branch.m.values[at]
        stable = (branch.stable.values[at] != 0 if "stable" in branch
                  else np.ones(sigma.size, dtype=bool))
        for start, stop in _runs(stable):
            part = slice(start, min(stop + 1, sigma.size))   # on to the next run's first point,
            kind = "stable" if stable[start] else "unstable"  # so that the parts join
            ax.plot(sigma[part], m[part], color="black", lw=1.2,
                    ls="-" if stable[start] else "--", gid=f"{name}:{kind}")
    history = stationary.get("history")
    if history is not None:
        at = history.depth.values == depth
        if at.any():
            ax.plot(history.sigma.values[at], history.m.values[at], color="0.55", lw=0.8,
                    gid="history")
    folds = stationary.get("folds")
    if folds is not None:
        at = folds.depth.values == depth
        if at.any():
            ax.plot(folds.sigma.values[at], folds.m.values[at], "x", color="black", ms=7,
                    mew=1.5, gid="fold")


def plot_horizons(source, theory=None, limit=None, protocol=None):
    """<m> against sigma at every horizon of the sweep, one panel per depth (gid 'depth D'),
    one curve per horizon (gid 'horizon:h'); --limit curves gid 'limit:h' (or 'limit:end')."""
    groups = _sweep_groups(source)
    protocol, ds = _pick(groups, protocol)
    stationary = _stationary_groups(theory, "--theory") if theory is not None else None
    limit_ds = None
    if limit is not None:
        limit_groups = _limit_groups(limit)
        if protocol not in limit_groups:
            raise PlotError(f"--limit: no protocol group {protocol!r} in the N -> infinity file "
                            f"(it has {', '.join(limit_groups)})")
        limit_ds = limit_groups[protocol]
    depths = ds.depth.values
    if depths.size == 0:
        raise PlotError("the sweep has no depth")
    horizons, mean = horizon_mean(ds)
    sigma = ds.sigma.values
    symlog = bool((sigma <= 0).any())
    order = _curve_points(sigma, symlog)
    colours = [_horizon_colour(k, horizons.size) for k in range(horizons.size)]
    if limit_ds is not None:
        limit_horizons, limit_mean = horizon_mean(limit_ds)
        limit_order = _curve_points(limit_ds.sigma.values, symlog)
        # (sweep horizon k, limit horizon q) for each horizon both have
        shared = [(k, q) for k, h in enumerate(horizons) for q, g in enumerate(limit_horizons)
                  if np.isclose(h, g, rtol=SAME_HORIZON_RTOL, atol=0)]
        if not shared:
            limit_end = _done_mean(limit_ds, "order_parameter")
    rows = -(-depths.size // PANEL_COLUMNS)
    columns = -(-depths.size // rows)     # 4 depths: 2 x 2, not 3 + 1
    fig = _figure()
    grid = fig.add_gridspec(rows, columns + 1, width_ratios=[1] * columns + [LEGEND_WIDTH])
    panels = []
    drawn_limit = False
    for i, depth in enumerate(depths):
        ax = fig.add_subplot(grid[i // columns, i % columns],
                             sharex=panels[0] if panels else None,
                             sharey=panels[0] if panels else None)
        ax.set_gid(f"depth {int(depth)}")
        panels.append(ax)
        if stationary is not None:
            _draw_stationary(ax, stationary, depth)
        for k, h in enumerate(horizons):
            ax.plot(sigma[order], mean[i, order, k], marker="o", ms=3, lw=1.4, color=colours[k],
                    gid=f"horizon:{h:g}")
        if limit_ds is not None and depth in limit_ds.depth.values:
            j = int(np.flatnonzero(limit_ds.depth.values == depth)[0])
            x = limit_ds.sigma.values[limit_order]
            for k, q in shared:
                ax.plot(x, limit_mean[j, limit_order, q], ls="--", lw=1.6, color=colours[k],
                        gid=f"limit:{horizons[k]:g}")
            if not shared:
                ax.plot(x, limit_end[j, limit_order], ls="--", lw=1.6, color="0.35",
                        gid="limit:end")
            drawn_limit = True
        ax.set_title(f"D = {int(depth)}", fontsize=9)
    all_sigma = sigma if limit_ds is None else np.concatenate([sigma, limit_ds.sigma.values])
    for i, ax in enumerate(panels):
        _sigma_axis(ax, all_sigma)
        if i + columns < depths.size:        # a panel below carries the sigma axis labels
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
        if i % columns == 0:
            ax.set_ylabel(LABEL["order_parameter"])
        else:
            ax.tick_params(labelleft=False)
    positive = all_sigma[all_sigma > 0]
    if not symlog and positive.size:
        # the sweep's range: the stationary branches run over a wider grid
        panels[0].set_xlim(positive.min() / 1.25, positive.max() * 1.25)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colours[k], marker="o", ms=3, label=_horizon_label(ds, h))
               for k, h in enumerate(horizons)]
    if drawn_limit:
        if shared:
            handles.append(Line2D([], [], color="0.35", ls="--",
                                  label="N $\\to\\infty$ (dashed,\nsame colours)"))
        else:
            end = limit_horizons[-1]
            handles.append(Line2D([], [], color="0.35", ls="--",
                                  label=f"N $\\to\\infty$, {_horizon_label(limit_ds, end)}"))
    if stationary is not None:
        handles += [Line2D([], [], color="black", lw=1.2, label="stationary, stable"),
                    Line2D([], [], color="black", lw=1.2, ls="--", label="stationary, unstable"),
                    Line2D([], [], color="0.55", lw=0.8, label="history branch"),
                    Line2D([], [], color="black", marker="x", ls="none", mew=1.5, label="fold")]
    legend_ax = fig.add_subplot(grid[:, -1])
    legend_ax.set_gid("legend")
    legend_ax.axis("off")
    legend_ax.legend(handles=handles, loc="center left", fontsize=7, frameon=False,
                     borderaxespad=0)
    fig.suptitle(f"{_name(source)}: $\\langle m\\rangle$ over realizations at each horizon, "
                 f"{protocol}", fontsize=10)
    return fig


def plot_phase_depth(stationary, sweeps=(), protocol=None):
    """The (depth, sigma) plane: the stationary critical couplings (gid 'critical:NAME'), the
    folds (gid 'folds') and each sweep's ordered window per horizon and depth (a vertical bar,
    gid 'window:SWEEP:DEPTH:h', SWEEP the index in `sweeps`)."""
    st = _stationary_groups(stationary, "phase-depth:")
    critical = st["critical"]
    windows = []   # (sweep index, Dataset, horizons, sigma_c1, sigma_c2)
    for index, sweep in enumerate(sweeps):
        ds = _pick(_sweep_groups(sweep), protocol)[1]
        windows.append((index, ds, *horizon_windows(ds)))
    fig = _figure()
    ax = fig.add_subplot()
    depths = set(critical.depth.values.tolist())
    for name, marker, colour, text in (
            ("sigma_c1", "o", "black", r"$\sigma_{c1}$ (stationary, N $\to\infty$)"),
            ("sigma_c2", "s", "tab:red", r"$\sigma_{c2}$ (stationary, N $\to\infty$)"),
            ("sigma_coexistence", "D", "tab:purple", "coexistence (stationary)")):
        if name in critical and np.isfinite(critical[name].values).any():
            ax.plot(critical.depth.values, critical[name].values, marker=marker, color=colour,
                    ms=7, lw=1.5, label=text, gid=f"critical:{name}")
    folds = st.get("folds")
    if folds is not None and folds.sizes.get("point", 0):
        ax.plot(folds.depth.values, folds.sigma.values, "x", color="0.2", ms=9, mew=1.5,
                label="folds of the ordered branch", gid="folds")
    all_horizons = (np.unique(np.concatenate([w[2] for w in windows])) if windows
                    else np.array([]))
    slots = sum(w[2].size for w in windows)
    spacing = min(0.08, 0.6 / max(slots, 1))   # the bars of one depth stay within +- 0.3
    slot = 0
    for index, ds, horizons, c1, c2 in windows:
        for k, h in enumerate(horizons):
            offset = (slot - (slots - 1) / 2) * spacing
            slot += 1
            colour = _horizon_colour(int(np.searchsorted(all_horizons, h)), all_horizons.size)
            for i, depth in enumerate(ds.depth.values):
                depths.add(int(depth))
                if not (np.isfinite(c1[i, k]) and np.isfinite(c2[i, k])):
                    continue   # no window at this depth and horizon
                ax.plot([depth + offset] * 2, [c1[i, k], c2[i, k]], color=colour, lw=3,
                        ls=WINDOW_STYLES[index % len(WINDOW_STYLES)], marker="_", ms=9,
                        solid_capstyle="butt", gid=f"window:{index}:{int(depth)}:{h:g}")
    ax.set_yscale("log")
    ax.set_xlabel("depth D")
    ax.set_ylabel(r"coupling $\sigma$")
    ticks = sorted(depths)
    ax.set_xticks(ticks)
    if ticks:
        ax.set_xlim(ticks[0] - 0.5, ticks[-1] + 0.5)
    from matplotlib.lines import Line2D
    handles, _ = ax.get_legend_handles_labels()
    if windows:
        first = windows[0][1]
        handles += [Line2D([], [], color=_horizon_colour(k, all_horizons.size), lw=3,
                           label=f"window, {_horizon_label(first, h)}")
                    for k, h in enumerate(all_horizons)]
    if len(windows) > 1:
        handles += [Line2D([], [], color="0.3", lw=2, ls=WINDOW_STYLES[i % len(WINDOW_STYLES)],
                           label=_name(sweeps[i])) for i, *_ in windows]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)
    title = f"{_name(stationary)}: stationary critical couplings"
    if windows:
        title += (", ordered windows [$\\sigma_{c1}$, $\\sigma_{c2}$] of "
                  + ", ".join(_name(s) for s in sweeps))
    ax.set_title(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- schemes

def scheme_of(source, ds=None):
    """The scheme of a micro file: the `scheme = ...` line of its root attribute `config`
    (e.g. 'fedavg:5:1'), else the file name."""
    if ds is None:
        ds = next(iter(_groups(source).values()))
    config = ds.attrs.get("config")
    match = SCHEME_LINE.search(config) if isinstance(config, str) else None
    return match.group(1) if match else _name(source)


def _micro_group(source, kind, protocol=None):
    """The protocol Dataset of a micro sweep with a finite accuracy somewhere, for `kind`
    (schemes, communication), else a PlotError naming the file."""
    name = _name(source)
    if not isinstance(source, dict):
        file = file_kind(source)   # ValueError (OSError) for non-cdl (missing) files
        if file != "micro":
            raise PlotError(f"`{kind}` needs cdl micro files ({source} is from cdl {file})")
    protocol, ds = _pick(_groups(source), protocol)
    if ds.attrs.get("subcommand") != "micro":
        raise PlotError(f"`{kind}` needs cdl micro files ({name} is from cdl "
                        f"{ds.attrs.get('subcommand')})")
    if "accuracy" not in ds or not np.isfinite(ds["accuracy"].values).any():
        raise PlotError(f"{name}: no accuracy in protocol {protocol} (a task without classes, "
                        f"or no point done); `{kind}` needs a classes task")
    if kind == "communication" and "communication" not in ds:
        raise PlotError(f"{name}: no `communication` dataset (a cdl micro file from before "
                        "--scheme)")
    return protocol, ds


def _scheme_sweeps(files, kind, protocol=None):
    """(Datasets, labels, depths, protocols): the picked protocol Dataset and the label (scheme)
    of each micro file, the depths they all hold (in the first file's order) and the protocol
    names for the title. A scheme given by several files gets the file name in brackets, so
    every label is distinct."""
    if not files:
        raise PlotError(f"`{kind}` needs at least one cdl micro file")
    picked = [_micro_group(f, kind, protocol) for f in files]
    labels = [scheme_of(f, ds) for f, (_, ds) in zip(files, picked)]
    labels = [f"{label} ({_name(f)})" if labels.count(label) > 1 else label
              for f, label in zip(files, labels)]
    depths = [int(d) for d in picked[0][1].depth.values
              if all(d in ds.depth.values for _, ds in picked[1:])]
    if not depths:
        raise PlotError(f"`{kind}`: no depth common to the files ("
                        + "; ".join(f"{_name(f)}: D = {', '.join(map(str, ds.depth.values))}"
                                    for f, (_, ds) in zip(files, picked)) + ")")
    protocols = sorted({p for p, _ in picked})
    return [ds for _, ds in picked], labels, depths, ", ".join(protocols)


def _depth_panels(fig, depths):
    """One axes per depth (gid 'depth D', title 'D = D'; up to PANEL_COLUMNS per row, sharing
    both axes) and a legend column of a fixed share of the width: (panels, columns, legend
    axes)."""
    rows = -(-len(depths) // PANEL_COLUMNS)
    columns = -(-len(depths) // rows)     # 4 depths: 2 x 2, not 3 + 1
    legend = columns * SCHEME_LEGEND_FRACTION / (1 - SCHEME_LEGEND_FRACTION)
    grid = fig.add_gridspec(rows, columns + 1, width_ratios=[1] * columns + [legend])
    panels = []
    for i, depth in enumerate(depths):
        ax = fig.add_subplot(grid[i // columns, i % columns],
                             sharex=panels[0] if panels else None,
                             sharey=panels[0] if panels else None)
        ax.set_gid(f"depth {int(depth)}")
        ax.set_title(f"D = {int(depth)}", fontsize=9)
        panels.append(ax)
    legend_ax = fig.add_subplot(grid[:, -1])
    legend_ax.set_gid("legend")
    legend_ax.axis("off")
    return panels, columns, legend_ax


def _label_panels(panels, columns, ylabel):
    """Axis labels on the outer panels only."""
    for i, ax in enumerate(panels):
        if i + columns < len(panels):        # a panel below carries the x axis labels
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
        if i % columns == 0:
            ax.set_ylabel(ylabel)
        else:
            ax.tick_params(labelleft=False)


def plot_schemes(files, protocol=None):
    """Test accuracy against sigma for several micro files (one per scheme): one panel per
    common depth (gid 'depth D'), in each one curve per file (gid 'scheme:INDEX', label the
    scheme, INDEX the position in `files`): the realization mean over the done points, in
    sigma order, shaded +- se (gid 'se:INDEX'); dashed in the same colour, the accuracy of the
    mean model (the units' mean parameters; gid 'mean-model:INDEX') where the file has it."""
    sweeps, labels, depths, protocols = _scheme_sweeps(list(files), "schemes", protocol)
    all_sigma = np.concatenate([ds.sigma.values for ds in sweeps])
    symlog = bool((all_sigma <= 0).any())
    fig = _figure()
    panels, columns, legend_ax = _depth_panels(fig, depths)
    handles = []
    for index, (ds, label) in enumerate(zip(sweeps, labels)):
        acc = signal(ds, "accuracy")
        mean_model = signal(ds, "accuracy_mean_model") if "accuracy_mean_model" in ds else None
        sigma = ds.sigma.values
        order = _curve_points(sigma, symlog)
        colour = _colour(index)
        marker = SCHEME_MARKERS[index % len(SCHEME_MARKERS)]
        for ax, depth in zip(panels, depths):
            i = int(np.flatnonzero(ds.depth.values == depth)[0])
            y, se = acc["mean"].values[i, order], acc["se"].values[i, order]
            line, = ax.plot(sigma[order], y, marker=marker, ls="-", color=colour, ms=4, lw=1.5,
                            mfc="none", label=label, gid=f"scheme:{index}")
            band = np.isfinite(se)
            ax.fill_between(sigma[order], np.where(band, y - se, np.nan),
                            np.where(band, y + se, np.nan), color=colour, alpha=0.2, lw=0,
                            gid=f"se:{index}")
            if mean_model is not None:
                ax.plot(sigma[order], mean_model["mean"].values[i, order], ls="--", lw=1,
                        color=colour, gid=f"mean-model:{index}")
        handles.append(line)
    for ax in panels:
        _sigma_axis(ax, all_sigma)
    _label_panels(panels, columns, "test accuracy")
    legend_ax.legend(handles=handles, loc="center left", fontsize=8, frameon=False,
                     borderaxespad=0, title="scheme", title_fontsize=8)
    fig.suptitle(f"test accuracy per scheme, mean $\\pm$ se over realizations, {protocols}"
                 " (dashed: the mean model)", fontsize=10)
    return fig


def _communication_axis(ax, values):
    """Log axis for the communication, symmetric-log (linear below the smallest positive value)
    when some point sends nothing (--dropout 1), so that it shows."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    if (values <= 0).any() and positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.5)
    elif positive.size:
        ax.set_xscale("log")
    ax.set_xlabel(COMMUNICATION_LABEL)


def plot_communication(files, protocol=None):
    """Test accuracy against `communication` for several micro files (one per scheme): one
    panel per common depth (gid 'depth D'), in each one curve per file (gid 'scheme:INDEX',
    label the scheme) through its points in sigma order (sigma = 0 included): x the realization
    mean of `communication`, y of `accuracy`, both over the done points. The markers (a
    scatter, gid 'sigma:INDEX') grow with sigma."""
    from matplotlib.lines import Line2D
    sweeps, labels, depths, protocols = _scheme_sweeps(list(files), "communication", protocol)
    fig = _figure()
    panels, columns, legend_ax = _depth_panels(fig, depths)
    handles = []
    drawn = []
    for index, (ds, label) in enumerate(zip(sweeps, labels)):
        sigma = ds.sigma.values
        order = np.argsort(sigma, kind="stable")
        accuracy = _done_mean(ds, "accuracy")
        communication = _done_mean(ds, "communication")
        rank = np.unique(sigma, return_inverse=True)[1][order]
        sizes = np.interp(rank, [0, max(rank.max(), 1)], MARKER_SIZES)
        colour = _colour(index)
        marker = SCHEME_MARKERS[index % len(SCHEME_MARKERS)]
        for ax, depth in zip(panels, depths):
            i = int(np.flatnonzero(ds.depth.values == depth)[0])
            x, y = communication[i, order], accuracy[i, order]
            ax.plot(x, y, "-", color=colour, lw=1.3, alpha=0.8, label=label,
                    gid=f"scheme:{index}")
            ax.scatter(x, y, s=sizes, marker=marker, facecolors="none", edgecolors=colour,
                       linewidths=1.2, zorder=3, gid=f"sigma:{index}")
            drawn.append(x)
        handles.append(Line2D([], [], color=colour, marker=marker, mfc="none", mew=1.2, ms=6,
                              label=label))
    for ax in panels:
        _communication_axis(ax, np.concatenate(drawn))
    _label_panels(panels, columns, "test accuracy")
    if columns > 1:   # one label under the panels: it is wider than one of them
        for ax in panels:
            ax.set_xlabel("")
        fig.supxlabel(COMMUNICATION_LABEL, fontsize=10)
    handles += [Line2D([], [], color="0.3", marker="o", ls="none", mfc="none", mew=1.2,
                       ms=np.sqrt(size), label=f"{which} $\\sigma$")
                for size, which in zip(MARKER_SIZES, ("smallest", "largest"))]
    legend_ax.legend(handles=handles, loc="center left", fontsize=8, frameon=False,
                     borderaxespad=0, title="scheme", title_fontsize=8)
    fig.suptitle(f"test accuracy against communication, means over realizations, {protocols}",
                 fontsize=10)
    return fig


# ----------------------------------------------------------------------------- CLI

def save(fig, out):
    fig.savefig(out, dpi=DPI, format="png")
    return out


def draw(kind, path, sigmas=None, theory=None, protocol=None, limit=None, sweeps=()):
    """The Figure of `kind` for the file `path` (a sweep; for `phase-depth` a stationary file,
    followed by the `sweeps`; for `schemes` and `communication` the first of the micro files,
    the others in `sweeps`); PlotError when it does not fit."""
    kind_of_file = file_kind(path)   # ValueError for non-cdl files
    if kind not in KINDS:
        raise PlotError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    if kind in MULTI_FILE_KINDS:
        if kind_of_file != "micro":
            raise PlotError(f"`{kind}` needs cdl micro files ({path} is from cdl "
                            f"{kind_of_file})")
    elif kind == "phase-depth":
        if kind_of_file != "stationary":
            raise PlotError(f"`phase-depth` needs a cdl stationary file first ({path} is from "
                            f"cdl {kind_of_file}); the sweeps follow it")
    elif kind_of_file == "stationary":
        raise PlotError(f"{path}: a cdl stationary file; `{kind}` needs a theory or micro sweep "
                        "(give a stationary file to `phase --theory`, `horizons --theory` or "
                        "first to `phase-depth`)")
    if sweeps and kind != "phase-depth" and kind not in MULTI_FILE_KINDS:
        raise PlotError(f"`{kind}` takes one file (only `phase-depth`, `schemes` and "
                        "`communication` take several)")
    if kind in ("accuracy", "cross") and kind_of_file != "micro":
        raise PlotError(f"`{kind}` needs a cdl micro file ({path} is from cdl {kind_of_file})")
    if sigmas and kind != "cross":
        raise PlotError("--sigma is for `cross` only")
    if theory is not None and kind not in ("phase", "horizons"):
        raise PlotError("--theory is for `phase` and `horizons` only")
    if limit is not None and kind != "horizons":
        raise PlotError("--limit is for `horizons` only")
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
    if kind == "horizons":
        return plot_horizons(path, theory, limit, protocol)
    if kind == "schemes":
        return plot_schemes([path, *sweeps], protocol)
    if kind == "communication":
        return plot_communication([path, *sweeps], protocol)
    return plot_phase_depth(path, sweeps, protocol)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def main(argv=None):
    kinds = __doc__[__doc__.index("KIND:"):__doc__.index("Bad use")].rstrip()
    # Installed (pyproject.toml), the command is cdl-plot.
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = _Parser(prog="cdl-plot" if invoked == "cdl-plot" else "python3 -m cdl_analysis.plot",
                     description="Draw a figure of a cdl sweep file as a PNG and print its path.",
                     epilog=kinds, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", metavar="KIND", choices=KINDS,
                        help="one of " + ", ".join(KINDS))
    parser.add_argument("file", metavar="FILE", help="a cdl theory or micro HDF5 file "
                        "(phase-depth: a cdl stationary file; schemes, communication: the "
                        "first cdl micro file)")
    parser.add_argument("sweeps", metavar="SWEEP", nargs="*",
                        help="phase-depth: theory or micro sweeps whose ordered windows to draw; "
                        "schemes, communication: further cdl micro files (one per scheme)")
    parser.add_argument("--out", help="PNG to write (default: FILE without .h5 + -KIND.png)")
    parser.add_argument("--sigma", type=float, nargs="+", metavar="S",
                        help="cross: couplings to show (nearest grid points)")
    parser.add_argument("--theory", metavar="STATIONARY.h5",
                        help="phase: a cdl stationary file whose /critical couplings to overlay; "
                        "horizons: whose stationary branches to draw")
    parser.add_argument("--limit", metavar="NINF.h5",
                        help="horizons: a cdl theory --units inf file whose curves to draw dashed")
    parser.add_argument("--protocol", help="protocol group (accuracy, cross, phase, horizons, "
                        "phase-depth, schemes, communication default: nonadiabatic; order, "
                        "loss default: all)")
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


if __name__ == "__main__":
    sys.exit(main())
