"""`order`: the order parameter <m> against sigma per depth and protocol."""

from __future__ import annotations

from .common import (LABEL, FigureKind, draw_mean_curves, file_label, new_figure, pick_protocol,
                     sweep_groups)


def plot_order(source, protocol=None):
    """<m> (realization mean over the done points, shaded +- se) against sigma, one colour per
    depth; every protocol group of the file, or only `protocol`."""
    groups = sweep_groups(source)
    if protocol is not None:
        groups = {protocol: pick_protocol(groups, protocol)[1]}
    fig = new_figure()
    ax = fig.add_subplot()
    draw_mean_curves(ax, groups, lambda ds: "order_parameter")
    ax.set_ylabel(LABEL["order_parameter"])
    ax.set_title(f"{file_label(source)}: order parameter, mean $\\pm$ se over realizations",
                 fontsize=10)
    return fig


FIGURE = FigureKind(
    name="order",
    summary=("<m> against sigma per depth, shaded +- se; nonadiabatic as markers, adiabatic\n"
             "sweeps as lines (up solid, down dashed)"),
    draw=lambda request: plot_order(request.file, request.protocol),
    protocol_default="all",
)
