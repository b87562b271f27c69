"""`python3 -m cdl_analysis.figures ...`: the same command as `python3 -m cdl_analysis.plot`."""

import sys

from . import main

sys.exit(main())
