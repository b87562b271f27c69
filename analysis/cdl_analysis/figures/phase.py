"""`phase`: the (depth, sigma) plane coloured by the mean observable, with the located
sigma_c1, sigma_c2 and, from a `cdl stationary` file, the N -> infinity ones."""

from __future__ import annotations

import warnings

import numpy as np

from ..reader import file_kind, open_stationary
from ..transitions import transitions
from .common import (LABEL, FigureKind, PlotError, file_label, new_figure, pick_protocol,
                     sweep_groups)


def _log_cell_edges(values):
    """Cell edges in log10 around sorted positive values."""
    x = np.log10(values)
    if x.size == 1:
        return 10.0 ** np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[:-1] + x[1:]) / 2
    return 10.0 ** np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def plot_phase(source, theory=None, protocol=None, bootstrap=1000):
    """The (sigma > 0, depth) cells coloured by the realization mean of the observable
    (order parameter, or micro accuracy), the sigma_c1 and sigma_c2 of transitions.transitions
    with their bootstrap 95 % intervals (`bootstrap` resamples), and with `theory` (a cdl
    stationary file) its /critical sigma_c1 and sigma_c2."""
    groups = sweep_groups(source)
    protocol, ds = pick_protocol(groups, protocol)
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
    fig = new_figure()
    ax = fig.add_subplot()
    yedges = np.concatenate([depths - 0.5, [depths[-1] + 0.5]]) if depths.size else [0, 1]
    if depths.size > 1 and not np.all(np.diff(depths) == 1):
        yedges = np.arange(depths.size + 1) - 0.5
        rows = np.arange(depths.size)
        ax.set_yticks(rows, [str(int(d)) for d in depths])
    else:
        rows = depths
        ax.set_yticks(rows)
    mesh = ax.pcolormesh(_log_cell_edges(unique), yedges, colour, cmap="viridis", shading="flat")
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
    ax.set_xlim(_log_cell_edges(unique)[0], _log_cell_edges(unique)[-1])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", framealpha=0.8)
    ax.set_title(f"{file_label(source)}: {protocol}, colour = mean {name.replace('_', ' ')}",
                 fontsize=10)
    return fig


FIGURE = FigureKind(
    name="phase",
    summary=("the (depth, sigma) plane coloured by the mean observable (order parameter, or\n"
             "micro accuracy), the located sigma_c1 / sigma_c2 with their bootstrap 95 % CIs,\n"
             "and with --theory the N -> infinity sigma_c1 / sigma_c2 of a `cdl stationary` file"),
    draw=lambda request: plot_phase(request.file, request.theory, request.protocol),
    options={"theory": "a cdl stationary file whose /critical couplings to overlay"},
)
