"""`schemes` (micro): the test accuracy against sigma of several micro files, one per exchange
scheme; the opening, labelling and depth panels that `communication` shares."""

from __future__ import annotations

import re

import numpy as np

from ..reader import file_kind
from ..transitions import signal
from .common import (MICRO, PANEL_COLUMNS, FigureKind, PlotError, file_label, new_figure,
                     pick_protocol, plotted_points, protocol_groups, sigma_axis, tab_colour)

SCHEME_LINE = re.compile(r"^\s*scheme\s*=\s*(\S.*?)\s*$", re.MULTILINE)   # in `config`
SCHEME_MARKERS = "osD^vP*X"     # one per file (identical curves show)
SCHEME_LEGEND_FRACTION = 0.22   # the legend column, of the width
FILE_HELP = "the first cdl micro file"
SWEEPS_HELP = "further cdl micro files (one per scheme)"


def scheme_of(source, ds=None):
    """The scheme of a micro file: the `scheme = ...` line of its root attribute `config`
    (e.g. 'fedavg:5:1'), else the file name."""
    if ds is None:
        ds = next(iter(protocol_groups(source).values()))
    config = ds.attrs.get("config")
    match = SCHEME_LINE.search(config) if isinstance(config, str) else None
    return match.group(1) if match else file_label(source)


def micro_accuracy_group(source, kind, protocol=None):
    """The protocol Dataset of a micro sweep with a finite accuracy somewhere, for `kind`
    (schemes, communication), else a PlotError naming the file."""
    name = file_label(source)
    if not isinstance(source, dict):
        file = file_kind(source)   # ValueError (OSError) for non-cdl (missing) files
        if file != "micro":
            raise PlotError(f"`{kind}` needs cdl micro files ({source} is from cdl {file})")
    protocol, ds = pick_protocol(protocol_groups(source), protocol)
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


def scheme_sweeps(files, kind, protocol=None):
    """(Datasets, labels, depths, protocols): the picked protocol Dataset and the label (scheme)
    of each micro file, the depths they all hold (in the first file's order) and the protocol
    names for the title. A scheme given by several files gets the file name in brackets, so
    every label is distinct."""
    if not files:
        raise PlotError(f"`{kind}` needs at least one cdl micro file")
    picked = [micro_accuracy_group(f, kind, protocol) for f in files]
    labels = [scheme_of(f, ds) for f, (_, ds) in zip(files, picked)]
    labels = [f"{label} ({file_label(f)})" if labels.count(label) > 1 else label
              for f, label in zip(files, labels)]
    depths = [int(d) for d in picked[0][1].depth.values
              if all(d in ds.depth.values for _, ds in picked[1:])]
    if not depths:
        raise PlotError(f"`{kind}`: no depth common to the files ("
                        + "; ".join(f"{file_label(f)}: D = {', '.join(map(str, ds.depth.values))}"
                                    for f, (_, ds) in zip(files, picked)) + ")")
    protocols = sorted({p for p, _ in picked})
    return [ds for _, ds in picked], labels, depths, ", ".join(protocols)


def depth_panels(fig, depths):
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


def label_outer_panels(panels, columns, ylabel):
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
    sweeps, labels, depths, protocols = scheme_sweeps(list(files), "schemes", protocol)
    all_sigma = np.concatenate([ds.sigma.values for ds in sweeps])
    symlog = bool((all_sigma <= 0).any())
    fig = new_figure()
    panels, columns, legend_ax = depth_panels(fig, depths)
    handles = []
    for index, (ds, label) in enumerate(zip(sweeps, labels)):
        acc = signal(ds, "accuracy")
        mean_model = signal(ds, "accuracy_mean_model") if "accuracy_mean_model" in ds else None
        sigma = ds.sigma.values
        order = plotted_points(sigma, symlog)
        colour = tab_colour(index)
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
        sigma_axis(ax, all_sigma)
    label_outer_panels(panels, columns, "test accuracy")
    legend_ax.legend(handles=handles, loc="center left", fontsize=8, frameon=False,
                     borderaxespad=0, title="scheme", title_fontsize=8)
    fig.suptitle(f"test accuracy per scheme, mean $\\pm$ se over realizations, {protocols}"
                 " (dashed: the mean model)", fontsize=10)
    return fig


FIGURE = FigureKind(
    name="schemes",
    summary=("MICRO [MICRO ...] (typically one cdl micro file per --scheme): test accuracy\n"
             "(realization mean over the done points, shaded +- se) against sigma, one curve\n"
             "per file labelled by its scheme (the `scheme = ...` line of the root attribute\n"
             "`config`, else the file name), one panel per depth that every file holds"),
    draw=lambda request: plot_schemes([request.file, *request.sweeps], request.protocol),
    first_file=MICRO,
    file_help=FILE_HELP,
    sweeps_help=SWEEPS_HELP,
)
