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

Errors. Every failure is a `ValueError` (the file is not a cdl output, or its content is
damaged or unexpected) or an `OSError` (it cannot be read: missing, not a regular file,
permission, I/O); the message names the file and the HDF5 object concerned. Refused before
any value is read:

- anything but a regular file (a FIFO, a directory, a device such as /dev/null): `OSError`
  ("not a regular file"). The path is opened once with O_NONBLOCK (a FIFO without a writer
  would block forever), checked with fstat and handed to h5py as that open file object, so
  it cannot be swapped between the check and the read;
- a file that is not HDF5, or without a root attribute `subcommand` naming theory, micro or
  stationary: `ValueError`;
- any soft, external or user-defined link anywhere in the file (a cdl file holds none; a
  dangling link, a link into another file or a loop of links would fail or loop later):
  `ValueError` naming the link;
- (`open_sweep`, `open_root`, `open_stationary`: in the root and the groups they read) a
  damaged layout, `ValueError` naming the dataset: a dataset whose axis has lost its
  dimension scale (deleted, or replaced by a plain dataset) or is labelled by a scale of
  another length; a dimension scale or a coordinate (depth, run, sigma, ...) that is not
  1-D; a protocol group without depth, run and sigma coordinates, or with a `status` that is
  not [depth, run, sigma]; a stationary file without /critical/depth; a name that is not
  UTF-8; a dataset, or all the datasets one call reads together, larger than the physical
  memory (from its declared shape: a dataset of fill values takes no room on disk);
- what h5py raises on damaged metadata or data (KeyError, RuntimeError, TypeError, ...)
  comes out as `ValueError` naming the object (h5py's OSError as `OSError` naming it).

Types are not checked: a `status` of int16 or an `order_parameter` of float32 is read as it
is. `file_kind` checks the file, its links and `subcommand` only.

Not covered: HDF5 1.10 itself may crash the process (segmentation fault) inside the library
on a damaged file, before the reader can answer: about 1 % of the damaged files of
tests/e2e/test_reader_hostile.py. The reader calls no H5DS function (h5py's `dims`, `h5ds`)
and reads no variable-length DIMENSION_LIST, which crashed on or blew up many more, and
touches only the groups it reads. A damaged size in the file's global heap may also make
HDF5 spend seconds and gigabytes on reading a text attribute (`config`).
"""

from __future__ import annotations

import contextlib
import math
import os
import stat

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
# Names of the coordinates of cdl files: a dataset so named must be 1-D wherever it is.
_AXES = ("depth", "run", "sigma", "horizon", "time", "unit", "unit_j", "point", "class", "step")
_SWEEP_AXES = ("depth", "run", "sigma")

# What h5py (and numpy under it) raise on damaged metadata or data, besides OSError.
_DAMAGE_ERRORS = (KeyError, RuntimeError, TypeError, IndexError, ValueError, OverflowError,
                  MemoryError)


class _LayoutError(ValueError):
    """A damaged or unexpected file, raised by the checks here: its message already names the
    file and the object, so the reading boundary lets it through unchanged."""


@contextlib.contextmanager
def _reading(path, what):
    """The reading boundary around h5py calls: h5py's errors on a damaged file come out as
    ValueError (OSError stays OSError) naming the file and `what`, the HDF5 object read."""
    try:
        yield
    except _LayoutError:
        raise
    except OSError as error:
        raise OSError(f"{path}: cannot read {what}: {error}") from error
    except _DAMAGE_ERRORS as error:
        raise _LayoutError(f"{path}: {what}: damaged or unreadable "
                           f"({type(error).__name__}: {error})") from error


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
    # The names first: the bookkeeping attributes (object references) are not even read.
    return {k: _text(obj.attrs[k]) for k in obj.attrs if k not in _INTERNAL_ATTRS}


# ----------------------------------------------------------------------------- opening

def _file_type(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path):
    """`path` opened for reading as a Python file object, OSError unless it is a regular file.
    O_NONBLOCK: opening a FIFO without a writer would block forever (HDF5 would open it
    blocking). The check is on the descriptor that is then read, so the file cannot be
    replaced between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as error:
        raise type(error)(f"{path}: cannot open ({error.strerror or error})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{path}: {_file_type(mode)}, not a regular file (a cdl file is a "
                          "regular HDF5 file)")
        # h5py reads through a buffered file object about as fast as by path (measured: the
        # same on 50 MB of small chunks, a third slower on one 800 MB read).
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _subcommand(f, path):
    """The root attribute `subcommand`, ValueError unless it is one of KINDS."""
    with _reading(path, "the root attribute 'subcommand'"):
        subcommand = _text(f.attrs["subcommand"]) if "subcommand" in f.attrs else None
    if subcommand is None:
        raise ValueError(f"{path}: not a cdl output file (no root attribute 'subcommand')")
    # isinstance first: a damaged attribute may be a numeric array, which `in` cannot compare.
    if not isinstance(subcommand, str) or subcommand not in KINDS:
        raise ValueError(f"{path}: not a cdl sweep or stationary file "
                         f"(subcommand {subcommand!r}, expected one of {', '.join(KINDS)})")
    return subcommand


def _refuse_links(f, path):
    """ValueError for the first soft, external or user-defined link anywhere in the file: a cdl
    file holds none, and following one can fail (dangling), read another file (external) or
    loop. H5Lvisit lists the links without following any but hard ones, each group once."""
    found = []

    def visit(name, info):
        if info.type != h5py.h5l.TYPE_HARD:
            found.append("/" + name.decode("utf-8", "replace"))
            return True   # stops the visit
        return None

    with _reading(path, "the links of the file"):
        f.id.links.visit(visit, info=True)
    if not found:
        return
    name = found[0]
    with _reading(path, f"the link {name}"):
        link = f.get(name, getlink=True)
    if isinstance(link, h5py.SoftLink):
        what = f"a soft link (to {link.path})"
    elif isinstance(link, h5py.ExternalLink):
        what = f"an external link (to {link.path} in {link.filename})"
    else:
        what = "a user-defined link"
    raise _LayoutError(f"{path}: {name} is {what}; a cdl file holds no links")


@contextlib.contextmanager
def _opened(path):
    """(h5py.File, kind) of the cdl output file at `path` (regular file, HDF5, `subcommand`,
    no links: see the module docstring); closes the file at the end."""
    path = os.fspath(path)
    with _open_regular(path) as fileobj:
        try:
            f = h5py.File(fileobj, "r")
        except OSError as error:
            raise ValueError(f"{path}: not an HDF5 file ({error})") from None
        except _DAMAGE_ERRORS as error:
            raise ValueError(f"{path}: not a readable HDF5 file "
                             f"({type(error).__name__}: {error})") from error
        with f:
            kind = _subcommand(f, path)
            _refuse_links(f, path)
            yield f, kind


def file_kind(path) -> str:
    """'theory', 'micro' or 'stationary', from the root attribute `subcommand`; ValueError for a
    file that is not a cdl output file or holds links, OSError for one that cannot be read
    (missing, not a regular file)."""
    with _opened(path) as (f, kind):
        return kind


# ----------------------------------------------------------------------------- layout checks

def _physical_memory():
    """Bytes of physical memory: no dataset, nor the datasets one call reads, may need more."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 2 ** 63


def _nbytes(dataset, path):
    with _reading(path, dataset.name):
        return math.prod(dataset.shape) * dataset.dtype.itemsize


def _too_big(dataset, path, size, limit, what):
    return _LayoutError(f"{path}: {dataset.name} has shape {dataset.shape} of "
                        f"{dataset.dtype}, {size / 2**30:.3g} GiB, more than {what} "
                        f"({limit / 2**30:.3g} GiB)")


class _Budget:
    """The bytes the datasets read by one call may still take, the physical memory at first:
    a file may declare huge datasets that take no room on disk (fill value only)."""

    def __init__(self, path):
        self.path = path
        self.left = _physical_memory()

    def take(self, dataset):
        size = _nbytes(dataset, self.path)
        if size > self.left:
            raise _too_big(dataset, self.path, size, self.left,
                           "the memory left by the datasets read before it")
        self.left -= size


# Which dimension scale labels which axis is read from the scales' REFERENCE_LIST attribute
# (fixed-size entries: dataset, axis), with h5py. Not through h5py's `dims` or `h5ds`: HDF5
# 1.10's H5DS functions crash the process (segmentation fault, double free) on a damaged
# attribute. Nor from the datasets' DIMENSION_LIST: a variable-length attribute, whose damaged
# lengths can make h5py build gigabytes of references for minutes.

def _datasets(group, path):
    """[(name, h5py.Dataset)] directly in `group`; a name that is not UTF-8 (h5py gives it as
    bytes) is refused: cdl names are ASCII, and the rest of the reader works on text."""
    with _reading(path, group.name):
        found = [(name, obj) for name, obj in group.items() if isinstance(obj, h5py.Dataset)]
        full_names = [obj.name for _, obj in found]
    for (name, _), full_name in zip(found, full_names):
        if isinstance(name, bytes) or isinstance(full_name, bytes):
            raise _LayoutError(f"{path}: the object {full_name!r} has a name that is not "
                               "UTF-8 text")
    return found


def _is_scale(obj):
    value = _text(obj.attrs.get("CLASS"))
    return isinstance(value, str) and value == "DIMENSION_SCALE"


def _scales(groups, path):
    """{(dataset name, axis): (scale name, scale length)} from every dimension scale directly
    in `groups`. Refused first: a dimension scale or a dataset named as a coordinate (depth,
    run, sigma, ...) that is not 1-D."""
    found = {}
    for group in groups:
        for name, obj in _datasets(group, path):
            with _reading(path, obj.name):
                shape = obj.shape
                is_scale = _is_scale(obj)
            if (is_scale or name in _AXES) and (shape is None or len(shape) != 1):
                raise _LayoutError(f"{path}: {obj.name} is a coordinate but has shape "
                                   f"{shape}, not 1-D")
            if not is_scale:
                continue
            with _reading(path, obj.name):
                entries = obj.attrs.get("REFERENCE_LIST")
            if entries is None:
                continue   # attached to nothing
            if not (isinstance(entries, np.ndarray) and entries.dtype.names
                    and len(entries.dtype.names) == 2 and entries.ndim == 1):
                raise _LayoutError(f"{path}: {obj.name}: its REFERENCE_LIST is not a list of "
                                   "(dataset, axis)")
            for reference, axis in entries.tolist():
                if not isinstance(reference, h5py.Reference):
                    raise _LayoutError(f"{path}: {obj.name}: its REFERENCE_LIST holds "
                                       f"{reference!r}, not an object reference")
                with _reading(path, f"the REFERENCE_LIST of {obj.name}"):
                    target = group.file[reference].name
                if target is not None:   # None: a deleted dataset
                    found.setdefault((target, int(axis)), (obj.name, shape[0]))
    return found


def _axes(dataset, path, scales):
    """(is_scale, names): whether `dataset` is a dimension scale, and per axis the name of its
    dimension scale (`scales`: from `_scales`), else its label, else None. Refused
    (ValueError naming the dataset): an empty dataspace; a dataset with dimension scales (a
    DIMENSION_LIST) with an axis that no scale of `scales` labels (deleted, or replaced by a
    plain dataset) or that a scale of another length labels."""
    name = dataset.name
    with _reading(path, name):
        shape = dataset.shape
        is_scale = _is_scale(dataset)
        has_scales = "DIMENSION_LIST" in dataset.attrs
        if has_scales:   # its dataspace only: the values are not read, see above
            listed = h5py.h5a.open(dataset.id, b"DIMENSION_LIST").shape
    if shape is None:
        raise _LayoutError(f"{path}: {name} has an empty dataspace (no values)")
    if is_scale:   # 1-D: `_scales`
        return True, (name.rsplit("/", 1)[-1],)
    if not has_scales:
        # A hand-made file: the axes' labels, if any, else None (guessed by `_dims`).
        with _reading(path, f"the dimension labels of {name}"):
            labels = _text(dataset.attrs.get("DIMENSION_LABELS"))
        if not (isinstance(labels, list) and len(labels) == len(shape)):
            labels = [""] * len(shape)
        return False, tuple(label if isinstance(label, str) and label else None
                            for label in labels)
    if listed != (len(shape),):
        raise _LayoutError(f"{path}: {name}: its DIMENSION_LIST has shape {listed}, not one "
                           f"entry per axis of its shape {shape}")
    names = []
    for axis, length in enumerate(shape):
        if (name, axis) not in scales:
            raise _LayoutError(f"{path}: axis {axis} of {name} has lost its dimension scale "
                               "(deleted, or replaced by a dataset that is not one)")
        scale, scale_length = scales[(name, axis)]
        if scale_length != length:
            raise _LayoutError(f"{path}: axis {axis} of {name} ({length} long) is labelled by "
                               f"{scale} of length {scale_length}")
        names.append(scale.rsplit("/", 1)[-1])
    return False, tuple(names)


def _check_layout(groups, path):
    """{dataset name: _axes(dataset)} for every dataset directly in `groups` (the groups a
    call reads), checked from the metadata alone before any value is read: `_axes`, and none
    larger than the physical memory. (Only these groups: every object HDF5 touches in a
    damaged file is one more chance for it to crash, see the module docstring.)"""
    scales = _scales(groups, path)
    axes = {}
    memory = _physical_memory()
    for group in groups:
        for _, obj in _datasets(group, path):
            axes[obj.name] = _axes(obj, path, scales)
            size = _nbytes(obj, path)
            if size > memory:
                raise _too_big(obj, path, size, memory, "the physical memory")
    return axes


# ----------------------------------------------------------------------------- reading

def _dims(dataset, axes, sizes=None):
    """Dimension names of an h5py dataset from its attached dimension scales (`axes`: what
    `_axes` gives for it). An axis without a scale or label (a hand-made file) is named after
    the group's 1-D coordinate of its length, (depth, run, sigma) first, else dim_<axis>."""
    is_scale, declared = axes
    if is_scale or (dataset.ndim == 1 and declared[0] is None
                    and dataset.name.rsplit("/", 1)[-1] in (sizes or ())):
        return (dataset.name.rsplit("/", 1)[-1],)
    names = []
    for axis, name in enumerate(declared):
        if name is None:
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


def _group_dataset(group, path, axes, budget, skip=(), traces=True):
    """xarray.Dataset of every dataset directly in `group` (`axes`: from `_check_layout`)."""
    members = _datasets(group, path)
    with _reading(path, group.name):
        group_attrs = _attrs(group)
    sizes = {name: obj.shape[0] for name, obj in members
             if obj.ndim == 1 and name in ("depth", "run", "sigma", "horizon", "time", "unit",
                                           "point")}
    coords, data_vars = {}, {}
    for name, obj in members:
        if name in skip:
            continue
        if not traces and (name.endswith("_trace") or name == "m") and obj.ndim >= 4:
            continue
        with _reading(path, obj.name):
            kind = obj.dtype.kind
        if kind not in "biuf":
            continue
        if obj.name not in axes:   # cannot happen in a file open read-only
            raise _LayoutError(f"{path}: {obj.name} was not among the datasets checked")
        dims = _dims(obj, axes[obj.name], sizes)
        budget.take(obj)
        with _reading(path, obj.name):
            values, attrs = obj[()], _attrs(obj)
        variable = xr.Variable(dims, values, attrs=attrs)
        if dims == (name,) or name in _EXTRA_COORDS:
            coords[name] = variable
        else:
            data_vars[name] = variable
    try:
        return xr.Dataset(data_vars, coords=coords, attrs=group_attrs)
    except ValueError as error:   # e.g. conflicting lengths of one dimension
        raise _LayoutError(f"{path}: {group.name}: {error}") from error


def _root_info(f, path):
    info = {}
    with _reading(path, "the root attributes"):
        for key in ("subcommand", "cdl_version", "config", "command", "task", "data",
                    "population"):
            if key in f.attrs:
                info[key] = _text(f.attrs[key])
    unit = _root_unit(f, path)
    if unit is not None:
        info["units"] = int(unit.shape[0])
    return info


def _root_unit(f, path):
    """The root `unit` dataset (1-D once `_check_layout` passed), or None."""
    with _reading(path, "/unit"):
        unit = f.get("unit")
    return unit if isinstance(unit, h5py.Dataset) else None


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


def _check_sweep_group(ds, path, group):
    """A protocol group has 1-D depth, run and sigma coordinates and, if any, a status over
    exactly them (the figures and estimators index by them)."""
    for axis in _SWEEP_AXES:
        if axis not in ds.coords or ds[axis].dims != (axis,):
            raise _LayoutError(f"{path}: {group} has no {axis} coordinate "
                               f"(a 1-D dataset {group}/{axis})")
    if "status" in ds and ds.status.dims != _SWEEP_AXES:
        raise _LayoutError(f"{path}: {group}/status is over {ds.status.dims}, "
                           f"not {_SWEEP_AXES}")


def _protocol_names(f, path):
    """The protocol groups of a sweep file: PROTOCOLS as present, then any other group with
    the attribute `protocol`."""
    with _reading(path, "the groups of the root"):
        names = [p for p in PROTOCOLS if p in f]
        for name in names:
            if not isinstance(f[name], h5py.Group):
                raise _LayoutError(f"{path}: /{name} is not a group")
        others = sorted(k for k in f if isinstance(f[k], h5py.Group) and k not in PROTOCOLS
                        and "protocol" in f[k].attrs)
    return names + others


def open_sweep(path, traces=True) -> dict[str, xr.Dataset]:
    """{protocol: Dataset} for a `cdl theory` or `cdl micro` file, in the file's protocol order
    (nonadiabatic, adiabatic_up, adiabatic_down as present). Coordinates depth, run, sigma
    (grid order, duplicates kept), time and unit; failed points are NaN. `traces=False` leaves
    out the per-sample traces (`m`, `*_trace`)."""
    path = os.fspath(path)
    with _opened(path) as (f, kind):
        if kind == "stationary":
            raise ValueError(f"{path}: a cdl stationary file, not a sweep "
                             "(use open_stationary)")
        protocols = {}
        for name in _protocol_names(f, path):
            with _reading(path, f"/{name}"):
                protocols[name] = f[name]
        # The root too: its dimension scales label the quenched inputs, and /unit is read.
        axes = _check_layout([f, *protocols.values()], path)
        budget = _Budget(path)
        info = _root_info(f, path)
        unit = _root_unit(f, path)
        if unit is not None:
            budget.take(unit)
            with _reading(path, "/unit"):
                unit = unit[()]
        groups = {}
        for name, group in protocols.items():
            ds = _group_dataset(group, path, axes, budget, traces=traces)
            _check_sweep_group(ds, path, f"/{name}")
            if unit is not None and "unit" not in ds.coords:
                try:
                    ds = ds.assign_coords(unit=("unit", unit))
                except ValueError as error:   # a `unit` axis of another length
                    raise _LayoutError(f"{path}: /{name} and /unit: {error}") from error
            ds.attrs.update(info)
            ds.attrs.setdefault("protocol", name)
            groups[name] = _mask_failed(ds)
    if not groups:
        raise ValueError(f"{path}: a cdl {kind} file without any protocol group")
    return groups


def open_root(path) -> xr.Dataset:
    """The root group: coordinates depth, run, unit and the datasets at the root (`disorder`,
    `initial_state`, `weight` for N -> infinity files, `all_data_accuracy` for micro classes),
    with the root attributes (subcommand, config, cdl_version, ...)."""
    path = os.fspath(path)
    with _opened(path) as (f, kind):
        ds = _group_dataset(f, path, _check_layout([f], path), _Budget(path))
        ds.attrs.update(_root_info(f, path))
    return ds


def open_stationary(path) -> dict[str, xr.Dataset]:
    """{'ordered', 'symmetric', 'history', 'folds', 'critical': Dataset} for a `cdl stationary`
    file. The branches and folds run over a `point` dimension (depth and sigma are coordinates
    over it; each depth's curve in continuation order); `critical` is indexed by depth
    (sigma_c1, sigma_c2, sigma_coexistence, NaN where absent)."""
    path = os.fspath(path)
    with _opened(path) as (f, kind):
        if kind != "stationary":
            raise ValueError(f"{path}: a cdl {kind} file, not a stationary one "
                             "(use open_sweep)")
        groups = {}
        for name in STATIONARY_GROUPS:
            with _reading(path, f"/{name}"):
                group = f.get(name)
            if group is None:
                continue
            if not isinstance(group, h5py.Group):
                raise _LayoutError(f"{path}: /{name} is not a group")
            groups[name] = group
        axes = _check_layout([f, *groups.values()], path)
        budget = _Budget(path)
        info = _root_info(f, path)
        out = {}
        for name, group in groups.items():
            ds = _group_dataset(group, path, axes, budget)
            if "point" in ds.dims:
                ds = ds.set_coords([c for c in ("depth", "sigma") if c in ds.data_vars])
            ds.attrs.update(info)
            out[name] = ds
    if "critical" not in out:
        raise ValueError(f"{path}: a cdl stationary file without /critical")
    critical = out["critical"]
    if "depth" not in critical.coords or critical.depth.dims != ("depth",):
        raise _LayoutError(f"{path}: /critical has no depth coordinate "
                           "(a 1-D dataset /critical/depth)")
    return out
