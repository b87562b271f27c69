"""`python3 -m cdl_analysis.plot KIND FILE [SWEEP ...] [--out PNG] [--sigma S ...]
[--theory STATIONARY.h5] [--limit NINF.h5] [--protocol P]`: see `cdl_analysis.figures` for the
kinds and figure sizes."""

import sys

from .figures import main

if __name__ == "__main__":
    sys.exit(main())
