"""`horizons`: <m> against sigma at every observation horizon of a sweep, beside the
N -> infinity curves and the stationary branches; `horizon_mean` and `horizon_windows` give
the numbers that `horizons` and `phase-depth` draw."""

from __future__ import annotations

import numpy as np

from ..reader import file_kind, open_sweep
from ..transitions import locate
from .common import (LABEL, PANEL_COLUMNS, FigureKind, PlotError, file_label, new_figure,
                     pick_protocol, plotted_points, realization_mean, sigma_axis,
                     stationary_groups, sweep_groups)

HORIZON_COLOURS = "viridis"   # early (dark) to late (light)
LEGEND_WIDTH = 0.8            # the legend column, in panel widths
SAME_HORIZON_RTOL = 1e-9      # --limit: sample times computed in two runs


def horizon_mean(ds):
    """(horizons, mean [depth, sigma, horizon]): the realization mean (done points) of
    `order_parameter_horizon`. A file without horizons gives its `order_parameter`, the end of
    the run, as the one horizon t_end (the last sample time)."""
    if "order_parameter_horizon" in ds and "horizon" in ds.coords:
        return (np.asarray(ds.horizon.values, dtype=float),
                realization_mean(ds, "order_parameter_horizon"))
    end = float(ds.time.values[-1]) if "time" in ds.coords and ds.sizes["time"] else np.nan
    return np.array([end]), realization_mean(ds, "order_parameter")[..., None]


def horizon_windows(ds):
    """(horizons, sigma_c1, sigma_c2), the two [depth, horizon]: the ordered window that
    transitions.locate finds on the realization mean at each horizon (NaN where not found)."""
    horizons, mean = horizon_mean(ds)
    c1, c2 = locate(ds.sigma.values, np.moveaxis(mean, 1, -1))   # batch over (depth, horizon)
    return horizons, np.asarray(c1), np.asarray(c2)


def horizon_colour(k, count):
    """Colour of the k-th of `count` horizons on the gradient."""
    from matplotlib import colormaps
    return colormaps[HORIZON_COLOURS](0.1 + 0.75 * k / max(count - 1, 1))


def horizon_label(ds, h):
    """'t = h' (theory: integration time) or 'step = h' (micro: coupled steps)."""
    return f"{'step' if ds.attrs.get('subcommand') == 'micro' else 't'} = {h:g}"


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


def _equal_stretches(flags):
    """[(start, stop)] of the stretches of equal values in a 1-D array (the stable and
    unstable parts of a branch)."""
    edges = np.flatnonzero(np.diff(np.asarray(flags, dtype=int))) + 1
    bounds = np.concatenate([[0], edges, [len(flags)]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _draw_stationary_branches(ax, stationary, depth):
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
        for start, stop in _equal_stretches(stable):
            part = slice(start, min(stop + 1, sigma.size))   # on to the next part's first point,
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
    groups = sweep_groups(source)
    protocol, ds = pick_protocol(groups, protocol)
    stationary = stationary_groups(theory, "--theory") if theory is not None else None
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
    order = plotted_points(sigma, symlog)
    colours = [horizon_colour(k, horizons.size) for k in range(horizons.size)]
    if limit_ds is not None:
        limit_horizons, limit_mean = horizon_mean(limit_ds)
        limit_order = plotted_points(limit_ds.sigma.values, symlog)
        # (sweep horizon k, limit horizon q) for each horizon both have
        shared = [(k, q) for k, h in enumerate(horizons) for q, g in enumerate(limit_horizons)
                  if np.isclose(h, g, rtol=SAME_HORIZON_RTOL, atol=0)]
        if not shared:
            limit_end = realization_mean(limit_ds, "order_parameter")
    rows = -(-depths.size // PANEL_COLUMNS)
    columns = -(-depths.size // rows)     # 4 depths: 2 x 2, not 3 + 1
    fig = new_figure()
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
            _draw_stationary_branches(ax, stationary, depth)
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
        sigma_axis(ax, all_sigma)
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
    handles = [Line2D([], [], color=colours[k], marker="o", ms=3, label=horizon_label(ds, h))
               for k, h in enumerate(horizons)]
    if drawn_limit:
        if shared:
            handles.append(Line2D([], [], color="0.35", ls="--",
                                  label="N $\\to\\infty$ (dashed,\nsame colours)"))
        else:
            end = limit_horizons[-1]
            handles.append(Line2D([], [], color="0.35", ls="--",
                                  label=f"N $\\to\\infty$, {horizon_label(limit_ds, end)}"))
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
    fig.suptitle(f"{file_label(source)}: $\\langle m\\rangle$ over realizations at each horizon, "
                 f"{protocol}", fontsize=10)
    return fig


FIGURE = FigureKind(
    name="horizons",
    summary=("SWEEP [--theory STATIONARY.h5] [--limit NINF.h5]: <m> (mean over the done\n"
             "realizations of order_parameter_horizon) against sigma, one panel per depth, one\n"
             'curve per observation horizon (colour gradient, "t = h"); '
             "--limit: the N -> infinity\n"
             "curves of a `cdl theory --units inf` file at the horizons it shares, dashed in the\n"
             "same colours (its order_parameter, grey, if it shares none); --theory: the\n"
             "stationary branches of a `cdl stationary` file (ordered and symmetric: stable\n"
             "solid, unstable dashed, black; history thin grey; folds x)"),
    draw=lambda request: plot_horizons(request.file, request.theory, request.limit,
                                       request.protocol),
    options={"theory": "whose stationary branches to draw",
             "limit": "a cdl theory --units inf file whose curves to draw dashed"},
)
