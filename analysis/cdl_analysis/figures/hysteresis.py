"""`hysteresis`: the adiabatic sweeps up and down on one axes."""

from __future__ import annotations

from ..transitions import observable_name
from .common import (LABEL, FigureKind, PlotError, draw_mean_curves, file_label, new_figure,
                     sweep_groups)


def plot_hysteresis(source):
    """The observable (order parameter, or micro accuracy) of adiabatic_up (solid) and
    adiabatic_down (dashed) against sigma, per depth."""
    groups = sweep_groups(source)
    if "adiabatic_up" not in groups or "adiabatic_down" not in groups:
        raise PlotError("`hysteresis` needs both adiabatic_up and adiabatic_down groups "
                        f"(the file has {', '.join(groups)})")
    pair = {p: groups[p] for p in ("adiabatic_up", "adiabatic_down")}
    name = observable_name(pair["adiabatic_up"])
    fig = new_figure()
    ax = fig.add_subplot()
    draw_mean_curves(ax, pair, lambda ds: name)
    ax.set_ylabel(LABEL.get(name, name))
    ax.set_title(f"{file_label(source)}: adiabatic sweeps up (solid) and down (dashed)",
                 fontsize=10)
    return fig


FIGURE = FigureKind(
    name="hysteresis",
    summary="adiabatic_up and adiabatic_down per depth on one axes",
    draw=lambda request: plot_hysteresis(request.file),
    protocol_default=None,   # always the two adiabatic groups
)
