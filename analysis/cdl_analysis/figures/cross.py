"""`cross` (micro): the accuracy of each unit on the test class of every other unit."""

from __future__ import annotations

import warnings

import numpy as np

from .common import (MICRO, SIZE, FigureKind, PlotError, file_label, new_figure, pick_protocol,
                     sweep_groups)

PANELS_AT_DEFAULT_WIDTH = 3
EXTRA_PANEL_WIDTH = 2.7   # inches added per panel beyond PANELS_AT_DEFAULT_WIDTH


def _nearest_coupling(sigma, wanted):
    """Index of the grid coupling nearest `wanted`: in log10 sigma when both are positive,
    else in sigma."""
    sigma = np.asarray(sigma, dtype=float)
    if wanted > 0 and (sigma > 0).any():
        with np.errstate(divide="ignore"):
            distance = np.where(sigma > 0, np.abs(np.log10(sigma) - np.log10(wanted)), np.inf)
    else:
        distance = np.abs(sigma - wanted)
    return int(np.argmin(distance))


def plot_cross(source, sigmas=None, protocol=None):
    """cross_accuracy [unit i, test class of unit j], mean over runs, at the first depth: one
    panel per coupling, the grid couplings nearest `sigmas` (default: the smallest, middle and
    largest)."""
    groups = sweep_groups(source)
    protocol, ds = pick_protocol(groups, protocol)
    if "cross_accuracy" not in ds:
        raise PlotError("`cross` needs a cdl micro file with cross_accuracy "
                        f"(this one is from cdl {ds.attrs.get('subcommand')})")
    sigma = ds.sigma.values
    if not sigmas:
        order = np.argsort(sigma, kind="stable")
        indices = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    else:
        indices = [_nearest_coupling(sigma, float(s)) for s in sigmas]
    n = len(indices)
    width = SIZE[0] + EXTRA_PANEL_WIDTH * max(0, n - PANELS_AT_DEFAULT_WIDTH)
    fig = new_figure((width, SIZE[1]))
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
    fig.suptitle(f"{file_label(source)}: cross accuracy, D = {int(depth)}, mean over "
                 f"{ds.sizes['run']} realizations, {protocol}", fontsize=10)
    return fig


FIGURE = FigureKind(
    name="cross",
    summary=("micro: cross_accuracy (unit i on the test class of unit j), averaged over runs,\n"
             "at the grid couplings nearest the --sigma values (default: smallest, middle and\n"
             "largest), first depth, one panel per coupling"),
    draw=lambda request: plot_cross(request.file, request.sigma, request.protocol),
    first_file=MICRO,
    options={"sigma": "couplings to show (nearest grid points)"},
)
