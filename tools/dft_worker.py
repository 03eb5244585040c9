"""Label one shard of a candidates file into its own store (device machine / background).

    python tools/dft_worker.py CANDIDATES.extxyz STORE.sqlite SHARD NSHARDS
Shard k takes frames k, k+N, k+2N... of the file (the file is ordered so shards balance).
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
from ase.io import read  # noqa: E402

from alloybench.dft.label import label  # noqa: E402
from alloybench.store import Store  # noqa: E402

src, db, k, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
frames = read(src, index=":")[k::n]
with Store(db) as store:
    label(frames, store, progress=lambda i, t, j, r: print(f"[{k}] {i}/{t} {j.name} ok={r.ok} {r.seconds:.0f}s",
                                                            flush=True))
