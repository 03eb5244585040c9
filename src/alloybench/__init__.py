"""alloybench: is this interatomic potential good enough for Al-Cu-Mg-Zn metallurgy?"""

import os as _os

# OpenMP threads that spin while waiting turn a busy machine into a 10-100x slowdown
# for small cells (measured: SevenNet-0, 1-atom Al, 2 threads on a loaded 2-core host,
# 0.4-2.9 s per call spinning vs 0.03 s passive).  Must be set before torch loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["benchmark", "load_results"]


def __getattr__(name: str):
    """``alloybench.benchmark`` and ``alloybench.load_results`` (see alloybench.api), imported on
    first use so that ``import alloybench`` stays light."""
    if name in __all__:
        from alloybench import api

        return getattr(api, name)
    raise AttributeError(f"module 'alloybench' has no attribute '{name}'")
