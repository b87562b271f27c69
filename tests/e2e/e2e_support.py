"""Helpers shared by the end-to-end tests (not a test file itself)."""

import os
from pathlib import Path

import h5py


def snapshot(directory):
    """Every file and directory under `directory` with its bytes and modification time."""
    state = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            state[os.path.relpath(os.path.join(root, name), directory) + "/"] = None
        for name in files:
            path = os.path.join(root, name)
            state[os.path.relpath(path, directory)] = (Path(path).read_bytes(),
                                                        os.stat(path).st_mtime_ns)
    return state


def datasets(path):
    """{name: array} for every dataset of an HDF5 file, in every group."""
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = obj[()]
        f.visititems(visit)
    return found
