"""`loss`: the loss against sigma, relative to its value at the weakest coupling."""

from __future__ import annotations

import numpy as np

from .common import (FigureKind, PlotError, draw_mean_curves, file_label, new_figure,
                     pick_protocol, sweep_groups)

LOG_SCALE_SPAN = 50   # a log y axis when the positive ratios span more than this factor


def plot_loss(source, protocol=None):
    """The loss (realization mean, shaded +- se) divided by its value at the smallest sigma,
    per depth; every protocol group of the file, or only `protocol`."""
    groups = sweep_groups(source)
    if protocol is not None:
        groups = {protocol: pick_protocol(groups, protocol)[1]}
    if not all("loss" in ds for ds in groups.values()):
        raise PlotError("the file has no `loss` dataset")
    fig = new_figure()
    ax = fig.add_subplot()
    drawn = draw_mean_curves(ax, groups, lambda ds: "loss", normalise=True)
    values = np.concatenate([d[np.isfinite(d)] for d in drawn]) if drawn else np.array([])
    if values.size and (values > 0).all() and values.max() / values.min() > LOG_SCALE_SPAN:
        ax.set_yscale("log")
    ax.set_ylabel(r"loss / loss at the smallest $\sigma$")
    ax.set_title(f"{file_label(source)}: loss relative to the weakest coupling", fontsize=10)
    return fig


FIGURE = FigureKind(
    name="loss",
    summary=("the loss (mean over runs) divided by its value at the smallest sigma, per depth\n"
             "(log y axis when every ratio is positive and they span more than a factor 50)"),
    draw=lambda request: plot_loss(request.file, request.protocol),
    protocol_default="all",
)
