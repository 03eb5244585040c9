"""alloybench: is this interatomic potential good enough for Al-Cu-Mg-Zn metallurgy?"""

import os as _os

# OpenMP threads that spin while waiting turn a busy machine into a 10-100x slowdown
# for small cells (measured: SevenNet-0, 1-atom Al, 2 threads on a loaded 2-core host,
# 0.4-2.9 s per call spinning vs 0.03 s passive).  Must be set before torch loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
