"""`accuracy` (micro): the test accuracy per unit and of the plurality vote against sigma."""

from __future__ import annotations

import numpy as np

from ..reader import open_root
from ..transitions import signal
from .common import (MICRO, FigureKind, PlotError, file_label, new_figure, pick_protocol,
                     plotted_points, sigma_axis, sweep_groups, tab_colour)


def plot_accuracy(source, protocol=None):
    """Test accuracy per unit (realization mean, shaded +- se; solid) and of the plurality
    vote (dotted) against sigma per depth; dashed, one network trained on all the data (the
    root /all_data_accuracy, mean over runs) when the file has it."""
    groups = sweep_groups(source)
    protocol, ds = pick_protocol(groups, protocol)
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
    fig = new_figure()
    ax = fig.add_subplot()
    sigma = ds.sigma.values
    order = plotted_points(sigma, bool((sigma <= 0).any()))
    acc = signal(ds, "accuracy")
    vote = signal(ds, "accuracy_vote") if "accuracy_vote" in ds else None
    for i, depth in enumerate(acc.depth.values):
        colour = tab_colour(int(depth))
        y, se = acc["mean"].values[i, order], acc["se"].values[i, order]
        ax.plot(sigma[order], y, "o-", color=colour, ms=4)
        ax.fill_between(sigma[order], y - se, y + se, color=colour, alpha=0.2, lw=0)
        if vote is not None:
            ax.plot(sigma[order], vote["mean"].values[i, order], "s:", color=colour, ms=3,
                    mfc="none")
        if reference is not None and depth in reference.depth.values:
            ax.axhline(float(reference.sel(depth=depth)), color=colour, ls="--", lw=1)
    sigma_axis(ax, sigma)
    ax.set_ylabel("test accuracy")
    handles = [Line2D([], [], color=tab_colour(int(d)), lw=6, alpha=0.6, label=f"D = {int(d)}")
               for d in acc.depth.values]
    handles += [Line2D([], [], color="0.3", marker="o", label="per unit (mean $\\pm$ se)"),
                Line2D([], [], color="0.3", marker="s", ls=":", mfc="none", label="vote")]
    if reference is not None:
        handles.append(Line2D([], [], color="0.3", ls="--", label="one network, all data"))
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_title(f"{file_label(source)}: test accuracy, protocol {protocol}", fontsize=10)
    return fig


FIGURE = FigureKind(
    name="accuracy",
    summary=("micro: test accuracy per unit (solid) and of the plurality vote (dotted) per\n"
             "depth, one network trained on all the data (/all_data_accuracy) dashed"),
    draw=lambda request: plot_accuracy(request.file, request.protocol),
    first_file=MICRO,
)
