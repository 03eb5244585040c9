"""PBE labels with GPAW (issue 14, part done): frozen settings (settings.py), a
cell-following GPAW calculator (calculator.py), resumable store-backed labelling
(label.py) and the packaged set's recipe (generate.py).  data/: candidates, the
labels so far (train/test split fixed per frame) and the labelling store.
Not done yet: the `alloybench dft` CLI, GPAW as a `run` model, the dataset task, tests.
"""
