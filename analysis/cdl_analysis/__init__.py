"""Analysis of cdl output files: reading them as xarray Datasets (`reader`), locating the
transitions (`transitions`) and drawing the figures (`figures`, CLI `python3 -m cdl_analysis.plot`).
"""

from .reader import file_kind, open_root, open_stationary, open_sweep  # noqa: F401
from .transitions import analyze, hysteresis, locate, signal, table  # noqa: F401

__all__ = ["file_kind", "open_root", "open_stationary", "open_sweep", "analyze", "hysteresis",
           "locate", "signal", "table"]
