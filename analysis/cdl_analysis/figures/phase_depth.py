"""`phase-depth`: the (depth, sigma) plane of a `cdl stationary` file (its critical couplings
and folds) with the ordered windows of finite-N sweeps at each observation horizon."""

from __future__ import annotations

import numpy as np

from .common import (STATIONARY, FigureKind, file_label, new_figure, pick_protocol,
                     stationary_groups, sweep_groups)
from .horizons import horizon_colour, horizon_label, horizon_windows

WINDOW_STYLES = ("-", "--", ":", "-.")   # one per sweep


def plot_phase_depth(stationary, sweeps=(), protocol=None):
    """The (depth, sigma) plane: the stationary critical couplings (gid 'critical:NAME'), the
    folds (gid 'folds') and each sweep's ordered window per horizon and depth (a vertical bar,
    gid 'window:SWEEP:DEPTH:h', SWEEP the index in `sweeps`)."""
    st = stationary_groups(stationary, "phase-depth:")
    critical = st["critical"]
    windows = []   # (sweep index, Dataset, horizons, sigma_c1, sigma_c2)
    for index, sweep in enumerate(sweeps):
        ds = pick_protocol(sweep_groups(sweep), protocol)[1]
        windows.append((index, ds, *horizon_windows(ds)))
    fig = new_figure()
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
            colour = horizon_colour(int(np.searchsorted(all_horizons, h)), all_horizons.size)
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
        handles += [Line2D([], [], color=horizon_colour(k, all_horizons.size), lw=3,
                           label=f"window, {horizon_label(first, h)}")
                    for k, h in enumerate(all_horizons)]
    if len(windows) > 1:
        handles += [Line2D([], [], color="0.3", lw=2, ls=WINDOW_STYLES[i % len(WINDOW_STYLES)],
                           label=file_label(sweeps[i])) for i, *_ in windows]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)
    title = f"{file_label(stationary)}: stationary critical couplings"
    if windows:
        title += (", ordered windows [$\\sigma_{c1}$, $\\sigma_{c2}$] of "
                  + ", ".join(file_label(s) for s in sweeps))
    ax.set_title(title, fontsize=10)
    return fig


FIGURE = FigureKind(
    name="phase-depth",
    summary=("STATIONARY [SWEEP ...]: the (depth, sigma) plane: the stationary sigma_c1,\n"
             "sigma_c2, sigma_coexistence against depth (lines with markers) and the folds (x);\n"
             "per sweep and horizon the ordered window [sigma_c1, sigma_c2] located on the\n"
             "realization mean of order_parameter_horizon, a vertical bar beside each depth\n"
             "(coloured by horizon; no bar where either end is not found)"),
    draw=lambda request: plot_phase_depth(request.file, request.sweeps, request.protocol),
    first_file=STATIONARY,
    file_help="a cdl stationary file",
    sweeps_help="theory or micro sweeps whose ordered windows to draw",
)
