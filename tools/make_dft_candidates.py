"""Write the candidate structures of the packaged DFT set (before labelling).

    PYTHONPATH=src python tools/make_dft_candidates.py OUT.extxyz
MD and committee picks use SevenNet-0 and CHGNet-0.3.0 (both offline, weights in their wheels).
"""
import sys

from ase.io import write

from alloybench.dft.generate import candidates
from alloybench.models import resolve

calcs = {"sevennet-0": resolve("sevennet-0").make_calculator, "chgnet-0.3.0": resolve("chgnet-0.3.0").make_calculator}
frames = candidates(calcs=calcs)
write(sys.argv[1], frames, format="extxyz")
from collections import Counter
print(len(frames), Counter(a.info["kind"] for a in frames), Counter(len(a) for a in frames))
