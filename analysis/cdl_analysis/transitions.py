"""Transition estimators for cdl sweeps: the signal per protocol and depth, the half-height
couplings sigma_c1 (onset of order) and sigma_c2 (loss of order) with bootstrap confidence
intervals, and the hysteresis between the adiabatic sweeps.

The definitions, those of the C++ `cdl analyze` (src/estimators/transitions.cpp): the signal and
the point estimates agree with it to round-off (a test compares them); the bootstrap intervals
follow the same rule with other random numbers (numpy's default_rng here), so they agree only
in distribution; the hysteresis intervals are this module's only (`cdl analyze` writes none).

- signal y(sigma) per protocol and depth: the mean over realizations (runs) of the observable
  (theory: `order_parameter`; micro: `accuracy` if it is finite anywhere in the group, else
  `order_parameter`) over the points with status 0; n = the number of those realizations;
  `se` = std(ddof=1)/sqrt(n); `chi` = N var(ddof=1) over them of `order_parameter`, whatever
  the observable (N = the `units` attribute the reader sets, the length of the root `unit`
  axis; NaN for N -> infinity files, whose root has the attribute `population`). The mean is
  NaN where n = 0, se where n < 2, chi where fewer than two of the realizations have an
  order parameter.
- the estimators use the points with sigma > 0 sorted by sigma (stable: duplicates kept),
  x = log10 sigma; k* = index of the (first) maximum of y; L = y at the smallest sigma, R = y
  at the largest, P = y[k*]. Fewer than two points: sigma_c1 = sigma_c2 = NaN.
- sigma_c1, defined only if P - L >= max(THRESHOLD |P|, FLOOR) = max(0.2 |P|, 0.01):
  h1 = (L + P)/2, the first k in 0..k*-1 with y_k < h1 <= y_{k+1},
  x_c1 = x_k + (h1 - y_k)(x_{k+1} - x_k)/(y_{k+1} - y_k), sigma_c1 = 10^x_c1 (NaN if there
  is none). The absolute FLOOR keeps round-off on a flat curve from making a window.
- sigma_c2, defined only if P - R >= max(0.2 |P|, 0.01): h2 = (P + R)/2, the first k in
  k*..n-2 with y_k >= h2 > y_{k+1}, interpolated the same way (NaN if none).
- bootstrap: the realizations resampled with replacement B = B_DEFAULT = 1000 times (one draw
  of run multiplicities per resample, the same for every depth and sigma, and for both
  adiabatic sweeps in the hysteresis; numpy.random.default_rng(seed), seed 0 by default), y
  recomputed as the mean over the drawn realizations (NaN entries left out) and the
  estimators on it; CI = 2.5 and 97.5 percentiles (numpy's linear interpolation) of the
  finite values, NaN if fewer than half of the B are finite.
- hysteresis, for the depths in both adiabatic_up and adiabatic_down (which must share the
  sigma grid): width_c1 = log10 sigma_c1(up) - log10 sigma_c1(down), width_c2 likewise
  (decades; NaN when either is missing), area = trapezoid integral of |y_up - y_down|
  d log10 sigma over the sigma > 0 points sorted by sigma.

Couplings where y is NaN (every realization failed there) are left out of the estimators
(the curve is the finite points, in order), and the area leaves out the trapezoids touching
one. (Both rules are conventions shared with `cdl analyze`: the definition above is silent on
them.)
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .reader import open_sweep

B_DEFAULT = 1000
THRESHOLD = 0.2
FLOOR = 0.01  # absolute: a window needs a height of at least 0.01 (m and accuracies are O(1))
CI_PERCENTILES = (2.5, 97.5)
CI_BOUNDS = ("low", "high")  # the `bound` axis of sigma_c1_ci, sigma_c2_ci (as in cdl analyze)


# ----------------------------------------------------------------------------- signal

def observable_name(ds: xr.Dataset) -> str:
    """The observable of a protocol group: micro `accuracy` when it is finite anywhere in the
    group, else `order_parameter`."""
    if ds.attrs.get("subcommand") == "micro" and "accuracy" in ds:
        if np.isfinite(ds["accuracy"].values).any():
            return "accuracy"
    return "order_parameter"


def units_for_chi(ds: xr.Dataset) -> float:
    """N for chi = N var: NaN for N -> infinity files (attribute `population`), else the
    `units` attribute (the reader's: the length of the root `unit` axis), else the length of
    the `unit` dimension, else NaN."""
    if "population" in ds.attrs:
        return float("nan")
    return float(ds.attrs.get("units", ds.sizes.get("unit", np.nan)))


def _mean_se(values):
    """(mean, se, var, n), each [depth, sigma], over axis 1 (runs) of [depth, run, sigma]
    values, NaN entries (failed points) left out: n the count of the others, se =
    std(ddof=1)/sqrt(n), var with ddof=1. The mean is NaN where n = 0, var and se where n < 2."""
    valid = np.isfinite(values)
    n = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        dev = np.where(valid, values - mean[:, None, :], 0.0)
        var = (dev * dev).sum(axis=1) / (n - 1)
        var = np.where(n >= 2, var, np.nan)
        mean = np.where(n >= 1, mean, np.nan)
        se = np.sqrt(var) / np.sqrt(n)
    return mean, se, var, n


def signal(ds: xr.Dataset, observable: str | None = None) -> xr.Dataset:
    """Dataset over (depth, sigma) (sigma in file order, sigma <= 0 included) with `mean`,
    `se` and `n` (the realizations with status 0) of the observable (default:
    observable_name(ds)) and `chi` = N var(ddof=1) of the order parameter; attributes
    `observable` and `protocol`."""
    name = observable or observable_name(ds)
    values = _values(ds, name)
    mean, se, _, n = _mean_se(values)
    _, _, var_m, _ = _mean_se(_values(ds, "order_parameter"))
    chi = units_for_chi(ds) * var_m
    coords = {"depth": ds.depth.values, "sigma": ("sigma", ds.sigma.values)}
    out = xr.Dataset({"mean": (("depth", "sigma"), mean), "se": (("depth", "sigma"), se),
                      "chi": (("depth", "sigma"), chi), "n": (("depth", "sigma"), n)},
                     coords=coords, attrs={"observable": name,
                                           "protocol": ds.attrs.get("protocol", "")})
    return out


def _values(ds, name):
    """[depth, run, sigma] float array of `name`, NaN where status != 0."""
    if name not in ds:
        # ValueError, not xarray's KeyError: a file without it is bad input (plot: exit 2)
        raise ValueError(f"protocol group {ds.attrs.get('protocol', '?')!r} has no "
                         f"dataset {name!r}")
    var = ds[name].transpose("depth", "run", "sigma")
    values = np.asarray(var.values, dtype=float)
    if "status" in ds:
        status = ds["status"].transpose("depth", "run", "sigma").values
        values = np.where(status == 0, values, np.nan)
    return values


# ----------------------------------------------------------------------------- estimators

def _sorted_positive(sigma):
    """Indices of the sigma > 0 points sorted by sigma (stable), and their log10 sigma."""
    sigma = np.asarray(sigma, dtype=float)
    positive = np.flatnonzero(sigma > 0)
    order = positive[np.argsort(sigma[positive], kind="stable")]
    return order, np.log10(sigma[order])


def _first(condition):
    """Index of the first True along the last axis and whether there is one."""
    return np.argmax(condition, axis=-1), condition.any(axis=-1)


def estimate(x, y):
    """sigma_c1, sigma_c2 (the half-height rule of the module docstring) of y over x = log10
    sigma, x 1-D of length n and sorted increasing (sigma > 0 only). y may carry leading batch
    axes [..., n]; returns two arrays of the batch shape (floats for 1-D y), NaN where not
    defined or not found. Non-finite y (a coupling without any valid realization) are left
    out first, each row on its own."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = y.shape[-1]
    batch = y.shape[:-1]
    if n < 2:
        c1 = np.full(batch, np.nan)
        return (float(c1), float(c1)) if batch == () else (c1, c1.copy())
    # Compact every row to its finite points, in order: positions >= m are padding (NaN).
    finite = np.isfinite(y)
    keep = np.argsort(~finite, axis=-1, kind="stable")
    m = finite.sum(axis=-1)
    y = np.take_along_axis(y, keep, axis=-1)
    x = np.broadcast_to(x, y.shape)
    x = np.take_along_axis(x, keep, axis=-1)
    position = np.arange(n)
    y = np.where(position < m[..., None], y, np.nan)
    last = np.maximum(m - 1, 0)[..., None]
    kstar = np.argmax(np.where(position < m[..., None], y, -np.inf), axis=-1)[..., None]
    P = np.take_along_axis(y, kstar, axis=-1)
    L = y[..., :1]
    R = np.take_along_axis(y, last, axis=-1)
    yk, yk1 = y[..., :-1], y[..., 1:]
    xk, xk1 = x[..., :-1], x[..., 1:]
    k = position[:-1]
    inside = (k + 1 < m[..., None])
    enough = (m >= 2)[..., None]
    out = []
    with np.errstate(all="ignore"):
        for level, defined, segment in (
                ((L + P) / 2, P - L >= np.maximum(THRESHOLD * np.abs(P), FLOOR), k < kstar),    # onset
                ((P + R) / 2, P - R >= np.maximum(THRESHOLD * np.abs(P), FLOOR), k >= kstar)):  # loss
            if not out:
                cond = (yk < level) & (level <= yk1)
            else:
                cond = (yk >= level) & (level > yk1)
            cond &= segment & inside
            j = np.argmax(cond, axis=-1)[..., None]
            found = cond.any(axis=-1)[..., None]
            ya, yb = np.take_along_axis(yk, j, -1), np.take_along_axis(yk1, j, -1)
            xa, xb = np.take_along_axis(xk, j, -1), np.take_along_axis(xk1, j, -1)
            xc = xa + (level - ya) * (xb - xa) / (yb - ya)
            out.append(np.where(enough & defined & found, 10.0 ** xc, np.nan)[..., 0])
    c1, c2 = out
    if batch == ():
        return float(c1), float(c2)
    return c1, c2


def locate(sigma, y):
    """sigma_c1, sigma_c2 of y(sigma), the sigma grid in any order (file order; sigma <= 0
    ignored): y [sigma] gives two floats, y [..., sigma] (e.g. [depth, horizon, sigma]) two
    arrays of its leading shape, one window per curve (see `estimate`)."""
    order, x = _sorted_positive(sigma)
    return estimate(x, np.asarray(y, dtype=float)[..., order])


def ci(samples, axis=0):
    """(low, high), each of the shape without `axis`: the 2.5 and 97.5 percentiles (numpy's
    linear interpolation) of the finite samples along `axis`; NaN where fewer than half of
    them are finite."""
    samples = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    count = samples.shape[0]
    low = np.full(samples.shape[1:], np.nan)
    high = np.full(samples.shape[1:], np.nan)
    for index in np.ndindex(*samples.shape[1:]):
        column = samples[(slice(None),) + index]
        good = column[np.isfinite(column)]
        if count and 2 * good.size >= count and good.size:
            low[index], high[index] = np.percentile(good, CI_PERCENTILES)
    return low, high


def resample_counts(runs, B, rng):
    """[B, runs] multiplicities of the realizations in B bootstrap resamples."""
    draws = rng.integers(0, runs, size=(B, runs))
    counts = np.zeros((B, runs))
    np.add.at(counts, (np.arange(B)[:, None], draws), 1.0)
    return counts


def resampled_means(values, counts):
    """[B, depth, sigma] means over the resampled realizations of [depth, run, sigma] values
    (NaN entries left out, NaN where no valid realization was drawn)."""
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0)
    total = np.einsum("br,drs->bds", counts, filled)
    n = np.einsum("br,drs->bds", counts, valid.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def transitions(ds: xr.Dataset, B: int = B_DEFAULT, seed: int = 0,
                observable: str | None = None) -> xr.Dataset:
    """The transitions of one protocol group: the signal (`mean`, `se`, `chi`, `n` over
    (depth, sigma)) of the observable (default: observable_name(ds)), `sigma_c1` and
    `sigma_c2` over depth and, when B > 0, their bootstrap 95 % intervals `sigma_c1_ci`,
    `sigma_c2_ci` over (depth, bound), bound = ["low", "high"] (the names and shape
    [depth, 2] of `cdl analyze`'s /analysis/<protocol>), from B resamples drawn with
    numpy.random.default_rng(seed). Attributes `observable`, `protocol` and `bootstrap` = B."""
    sig = signal(ds, observable)
    name = sig.attrs["observable"]
    values = _values(ds, name)
    order, x = _sorted_positive(ds.sigma.values)
    c1, c2 = estimate(x, sig["mean"].values[:, order])
    c1, c2 = np.atleast_1d(c1), np.atleast_1d(c2)
    out = sig.copy()
    out["sigma_c1"] = ("depth", c1)
    out["sigma_c2"] = ("depth", c2)
    if B > 0:
        rng = np.random.default_rng(seed)
        boot = resampled_means(values, resample_counts(values.shape[1], B, rng))
        b1, b2 = estimate(x, boot[:, :, order])
        out.coords["bound"] = ("bound", list(CI_BOUNDS))
        for label, samples in (("sigma_c1", b1), ("sigma_c2", b2)):
            out[label + "_ci"] = (("depth", "bound"), np.stack(ci(samples), axis=-1))
    out.attrs["bootstrap"] = B
    return out


def hysteresis(up: xr.Dataset, down: xr.Dataset, B: int = B_DEFAULT, seed: int = 0,
               observable: str | None = None) -> xr.Dataset:
    """Dataset over the depths of both adiabatic sweeps (in `up`'s order): `width_c1`,
    `width_c2` (decades, up - down) and `area` of the observable (default:
    observable_name(up)); when B > 0 and a depth is shared, their bootstrap 95 % intervals
    `width_c1_ci`, `width_c2_ci`, `area_ci` over (depth, bound), the same resampled
    realizations for both sweeps (numpy.random.default_rng(seed)). Attributes `observable` and
    `bootstrap` = B. ValueError when the two sigma grids differ, or (for the intervals) the
    run counts."""
    name = observable or observable_name(up)
    sig_up, sig_down = up.sigma.values, down.sigma.values
    if sig_up.shape != sig_down.shape or not np.array_equal(sig_up, sig_down):
        raise ValueError("adiabatic_up and adiabatic_down have different sigma grids")
    depths = [d for d in up.depth.values if d in set(down.depth.values)]
    up_d = up.sel(depth=depths)
    down_d = down.sel(depth=depths)
    order, x = _sorted_positive(sig_up)
    vu, vd = _values(up_d, name), _values(down_d, name)
    yu, yd = _mean_se(vu)[0][:, order], _mean_se(vd)[0][:, order]

    def measures(yu, yd):
        cu1, cu2 = estimate(x, yu)
        cd1, cd2 = estimate(x, yd)
        with np.errstate(invalid="ignore", divide="ignore"):
            w1 = np.log10(cu1) - np.log10(cd1)
            w2 = np.log10(cu2) - np.log10(cd2)
            d = np.abs(yu - yd)
            segments = 0.5 * (d[..., :-1] + d[..., 1:]) * np.diff(x)
            area = np.where(np.isfinite(segments), segments, 0.0).sum(axis=-1)
        return np.atleast_1d(w1), np.atleast_1d(w2), np.atleast_1d(area)

    w1, w2, area = measures(yu, yd)
    out = xr.Dataset({"width_c1": ("depth", w1), "width_c2": ("depth", w2),
                      "area": ("depth", area)},
                     coords={"depth": np.asarray(depths)}, attrs={"observable": name})
    if B > 0 and len(depths):
        if vu.shape[1] != vd.shape[1]:
            raise ValueError("adiabatic_up and adiabatic_down have different run counts")
        rng = np.random.default_rng(seed)
        counts = resample_counts(vu.shape[1], B, rng)
        bu = resampled_means(vu, counts)[:, :, order]
        bd = resampled_means(vd, counts)[:, :, order]
        out.coords["bound"] = ("bound", list(CI_BOUNDS))
        for label, samples in zip(("width_c1", "width_c2", "area"), measures(bu, bd)):
            interval = np.stack(ci(samples.reshape(B, len(depths))), axis=-1)
            out[label + "_ci"] = (("depth", "bound"), interval)
    out.attrs["bootstrap"] = B
    return out


# ----------------------------------------------------------------------------- whole files

def analyze(path_or_groups, B: int = B_DEFAULT, seed: int = 0) -> dict[str, xr.Dataset]:
    """{protocol: transitions(ds, B, seed + i)} for the i-th protocol group of a sweep file
    (file order), plus 'hysteresis': hysteresis(up, down, B, seed + 100) when both adiabatic
    sweeps are present. Accepts a path or the dict of `open_sweep`."""
    groups = path_or_groups
    if not isinstance(groups, dict):
        groups = open_sweep(path_or_groups, traces=False)
    out = {}
    for i, (protocol, ds) in enumerate(groups.items()):
        out[protocol] = transitions(ds, B=B, seed=seed + i)
    if "adiabatic_up" in groups and "adiabatic_down" in groups:
        out["hysteresis"] = hysteresis(groups["adiabatic_up"], groups["adiabatic_down"], B=B,
                                       seed=seed + 100)
    return out


def _fmt(value, width=9):
    return f"{value:{width}.4g}" if np.isfinite(value) else f"{'-':>{width}}"


def table(result: dict[str, xr.Dataset]) -> str:
    """The sigma_c table (point estimate [95 % CI]) per protocol and depth, and the hysteresis."""
    lines = [f"{'protocol':<15}{'D':>3}  {'sigma_c1':>9} {'95% CI':>21}  "
             f"{'sigma_c2':>9} {'95% CI':>21}"]
    for protocol, ds in result.items():
        if protocol == "hysteresis":
            continue
        for i, depth in enumerate(ds.depth.values):
            cells = []
            for label in ("sigma_c1", "sigma_c2"):
                bounds = ds.get(label + "_ci")
                interval = (f"[{_fmt(float(bounds.sel(bound='low')[i]))}, "
                            f"{_fmt(float(bounds.sel(bound='high')[i]))}]"
                            if bounds is not None else "")
                cells.append(f"{_fmt(float(ds[label][i]))} {interval:>21}")
            lines.append(f"{protocol:<15}{int(depth):>3}  {cells[0]}  {cells[1]}")
    if "hysteresis" in result:
        h = result["hysteresis"]
        lines.append("")
        lines.append(f"{'hysteresis':<15}{'D':>3}  {'width_c1':>9} {'width_c2':>9} "
                     f"{'area':>9}   (decades; up - down)")
        for i, depth in enumerate(h.depth.values):
            lines.append(f"{'':<15}{int(depth):>3}  {_fmt(float(h.width_c1[i]))} "
                         f"{_fmt(float(h.width_c2[i]))} {_fmt(float(h.area[i]))}")
    return "\n".join(lines)
