"""`communication` (micro): the test accuracy each exchange scheme reaches against the
parameters it sends."""

from __future__ import annotations

import numpy as np

from .common import MICRO, FigureKind, new_figure, realization_mean, tab_colour
from .schemes import (FILE_HELP, SCHEME_MARKERS, SWEEPS_HELP, depth_panels, label_outer_panels,
                      scheme_sweeps)

MARKER_SIZES = (9.0, 49.0)    # marker area at the smallest and largest sigma
COMMUNICATION_LABEL = "parameters sent per unit per step"


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
    sweeps, labels, depths, protocols = scheme_sweeps(list(files), "communication", protocol)
    fig = new_figure()
    panels, columns, legend_ax = depth_panels(fig, depths)
    handles = []
    drawn = []
    for index, (ds, label) in enumerate(zip(sweeps, labels)):
        sigma = ds.sigma.values
        order = np.argsort(sigma, kind="stable")
        accuracy = realization_mean(ds, "accuracy")
        communication = realization_mean(ds, "communication")
        rank = np.unique(sigma, return_inverse=True)[1][order]
        sizes = np.interp(rank, [0, max(rank.max(), 1)], MARKER_SIZES)
        colour = tab_colour(index)
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
    label_outer_panels(panels, columns, "test accuracy")
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


FIGURE = FigureKind(
    name="communication",
    summary=("MICRO [MICRO ...]: test accuracy (realization mean) against `communication`\n"
             "(parameters sent per unit per step, realization mean; log axis), one curve per\n"
             "file in sigma order (marker size grows with sigma), one panel per common depth:\n"
             "the accuracy each scheme reaches per unit of communication"),
    draw=lambda request: plot_communication([request.file, *request.sweeps], request.protocol),
    first_file=MICRO,
    file_help=FILE_HELP,
    sweeps_help=SWEEPS_HELP,
)
