"""Read the HDF5 files written by `cdl theory`, `cdl micro` and `cdl stationary` as labelled
xarray Datasets.

    from cdl_analysis.reader import file_kind, open_sweep, open_root, open_stationary

    kind = file_kind("data/quick.h5")            # 'theory' | 'micro' | 'stationary'
    groups = open_sweep("data/quick.h5")         # {'nonadiabatic': Dataset, 'adiabatic_up': ...}
    groups["nonadiabatic"].order_parameter.mean("run").sel(depth=2)

The datasets are read with h5py and labelled by the HDF5 dimension scales the files carry
(the same names `xarray.open_dataset(..., engine="h5netcdf")` gives), with two differences:

- every float variable over (depth, run, sigma, ...) is NaN where `status != 0` (failed or
  unfinished points), so a plain `mean("run")` skips them; `status` itself is kept;
- a dimension repeated in one variable gets `_j` on its second use: micro's `cross_accuracy`
  is [depth, run, sigma, unit, unit_j] (accuracy of unit i on the test class of unit j).

The observation horizons (`cdl theory|micro --horizons`) are the `horizon` coordinate of each
protocol Dataset: `order_parameter_horizon`, `loss_horizon` (micro: every `<observable>_horizon`)
are [depth, run, sigma, horizon], NaN where `status != 0` like the other results.

The root `unit` coordinate is added to every protocol Dataset (theory groups do not carry it),
and each Dataset's attributes hold the file's `subcommand`, `units` (N, the length of the root
`unit` axis) and, for `cdl theory --units inf` files, `population`.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import xarray as xr

KINDS = ("theory", "micro", "stationary")
PROTOCOLS = ("nonadiabatic", "adiabatic_up", "adiabatic_down")
STATUS_DONE = 0
STATIONARY_GROUPS = ("ordered", "symmetric", "history", "folds", "critical")

# HDF5 bookkeeping attributes that are not part of the data.
_INTERNAL_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid",
                   "_Netcdf4Coordinates", "_nc3_strict"}
# 1-D datasets that label an axis without being its dimension scale.
_EXTRA_COORDS = {"step"}


def _text(value):
    """An HDF5 attribute as plain Python: bytes decoded, numpy scalars unwrapped."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return [_text(v) for v in value.tolist()]
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _attrs(obj):
    return {k: _text(v) for k, v in obj.attrs.items() if k not in _INTERNAL_ATTRS}


def _open(path):
    """h5py.File for `path`, or ValueError if it is not a cdl output file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not an HDF5 file ({error})") from None
    subcommand = _text(f.attrs.get("subcommand")) if "subcommand" in f.attrs else None
    if subcommand not in KINDS:
        f.close()
        if subcommand is None:
            raise ValueError(f"{path}: not a cdl output file (no root attribute 'subcommand')")
        raise ValueError(f"{path}: not a cdl sweep or stationary file "
                         f"(subcommand {subcommand!r}, expected one of {', '.join(KINDS)})")
    return f, subcommand


def file_kind(path) -> str:
    """'theory', 'micro' or 'stationary', from the root attribute `subcommand`; ValueError for a
    file that is not a cdl output file."""
    f, kind = _open(path)
    f.close()
    return kind


_SWEEP_AXES = ("depth", "run", "sigma")


def _dims(dataset, sizes=None):
    """Dimension names of an h5py dataset from its attached dimension scales. An axis without
    a scale or label (a hand-made file) is named after the group's 1-D coordinate of its length,
    (depth, run, sigma) first, else dim_<axis>."""
    if h5py.h5ds.is_scale(dataset.id) or (dataset.ndim == 1 and not len(dataset.dims[0])
                                          and dataset.name.rsplit("/", 1)[-1] in (sizes or ())):
        return (dataset.name.rsplit("/", 1)[-1],)
    names = []
    for axis, dim in enumerate(dataset.dims):
        if len(dim):
            name = dim[0].name.rsplit("/", 1)[-1]
        elif dim.label:
            name = dim.label
        else:
            name = f"dim_{axis}"
            length = dataset.shape[axis]
            others = [scale for scale in (sizes or ()) if scale != "horizon"]
            if axis < len(_SWEEP_AXES):
                guesses = [_SWEEP_AXES[axis]] + others
            elif dataset.name.endswith("_horizon"):
                guesses = ["horizon"] + others
            else:
                # `horizon` only for the *_horizon variables: a trace over `time` may have as
                # many samples as there are horizons.
                guesses = others
            for guess in guesses:
                if (sizes or {}).get(guess) == length and guess not in names:
                    name = guess
                    break
        while name in names:
            name += "_j"
        names.append(name)
    return tuple(names)


def _group_dataset(group, skip=(), traces=True):
    """xarray.Dataset of every dataset directly in `group`."""
    coords, data_vars = {}, {}
    sizes = {name: obj.shape[0] for name, obj in group.items()
             if isinstance(obj, h5py.Dataset) and obj.ndim == 1
             and name in ("depth", "run", "sigma", "horizon", "time", "unit", "point")}
    for name, obj in group.items():
        if not isinstance(obj, h5py.Dataset) or name in skip:
            continue
        if not traces and (name.endswith("_trace") or name == "m") and obj.ndim >= 4:
            continue
        if obj.dtype.kind not in "biuf":
            continue
        dims = _dims(obj, sizes)
        variable = xr.Variable(dims, obj[()], attrs=_attrs(obj))
        if dims == (name,) or name in _EXTRA_COORDS:
            coords[name] = variable
        else:
            data_vars[name] = variable
    return xr.Dataset(data_vars, coords=coords, attrs=_attrs(group))


def _root_info(f):
    info = {}
    for key in ("subcommand", "cdl_version", "config", "command", "task", "data", "population"):
        if key in f.attrs:
            info[key] = _text(f.attrs[key])
    if "unit" in f:
        info["units"] = int(f["unit"].shape[0])
    return info


def _mask_failed(ds):
    """NaN at every point whose status is not 0, in the float variables over (depth, run, sigma)."""
    if "status" not in ds:
        return ds
    done = ds.status == STATUS_DONE
    for name, var in ds.data_vars.items():
        if name == "status" or var.dtype.kind != "f" or var.dims[:3] != ("depth", "run", "sigma"):
            continue
        ds[name] = var.where(done)
    return ds


def open_sweep(path, traces=True) -> dict[str, xr.Dataset]:
    """{protocol: Dataset} for a `cdl theory` or `cdl micro` file, in the file's protocol order
    (nonadiabatic, adiabatic_up, adiabatic_down as present). Coordinates depth, run, sigma
    (grid order, duplicates kept), time and unit; failed points are NaN. `traces=False` leaves
    out the per-sample traces (`m`, `*_trace`)."""
    f, kind = _open(path)
    with f:
        if kind == "stationary":
            raise ValueError(f"{os.fspath(path)}: a cdl stationary file, not a sweep "
                             "(use open_stationary)")
        info = _root_info(f)
        unit = f["unit"][()] if "unit" in f else None
        groups = {}
        names = [p for p in PROTOCOLS if p in f] + sorted(
            k for k in f if isinstance(f[k], h5py.Group) and k not in PROTOCOLS
            and "protocol" in f[k].attrs)
        for name in names:
            ds = _group_dataset(f[name], traces=traces)
            if unit is not None and "unit" not in ds.coords:
                ds = ds.assign_coords(unit=("unit", unit))
            ds.attrs.update(info)
            ds.attrs.setdefault("protocol", name)
            groups[name] = _mask_failed(ds)
    if not groups:
        raise ValueError(f"{os.fspath(path)}: a cdl {kind} file without any protocol group")
    return groups


def open_root(path) -> xr.Dataset:
    """The root group: coordinates depth, run, unit and the datasets at the root (`disorder`,
    `initial_state`, `weight` for N -> infinity files, `all_data_accuracy` for micro classes),
    with the root attributes (subcommand, config, cdl_version, ...)."""
    f, kind = _open(path)
    with f:
        ds = _group_dataset(f)
        ds.attrs.update(_root_info(f))
    return ds


def open_stationary(path) -> dict[str, xr.Dataset]:
    """{'ordered', 'symmetric', 'history', 'folds', 'critical': Dataset} for a `cdl stationary`
    file. The branches and folds run over a `point` dimension (depth and sigma are coordinates
    over it; each depth's curve in continuation order); `critical` is indexed by depth
    (sigma_c1, sigma_c2, sigma_coexistence, NaN where absent)."""
    f, kind = _open(path)
    with f:
        if kind != "stationary":
            raise ValueError(f"{os.fspath(path)}: a cdl {kind} file, not a stationary one "
                             "(use open_sweep)")
        info = _root_info(f)
        out = {}
        for name in STATIONARY_GROUPS:
            if name not in f:
                continue
            ds = _group_dataset(f[name])
            if "point" in ds.dims:
                ds = ds.set_coords([c for c in ("depth", "sigma") if c in ds.data_vars])
            ds.attrs.update(info)
            out[name] = ds
    if "critical" not in out:
        raise ValueError(f"{os.fspath(path)}: a cdl stationary file without /critical")
    return out
