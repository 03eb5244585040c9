"""PBE labels with GPAW, and GPAW as a model (issue 14, part 1; docs/dft.md).

- settings.py: frozen, digested ``DFTSettings`` (DEFAULT: PW 500 eV, k-density 18; LOW for
  tests; REFERENCE_K: the reference's k-density 80) and the k-mesh rule;
- calculator.py: ``DFTCalculator``, a GPAW calculator whose k-mesh follows each cell;
- label.py: store-backed, resumable labelling (one single-point Job per frame, model id
  ``gpaw-VERSION@DIGEST``) and the labelled extxyz writer (provenance per frame);
- inputs.py: what ``alloybench dft label`` accepts (an extxyz, or a task's Job inputs), checked;
- packaged.py: the packaged set (candidates, store, train/test splits) and continuing it
  (``alloybench dft set``);
- model.py: the ``dft`` family's loader (``alloybench run --model gpaw|gpaw-low``), the
  40-atom limit per Job and the pre-run check of every planned Job;
- generate.py: the packaged set's candidate recipe (kinds, fixed split);
- data/: candidates, the labels so far (train/test) and the labelling store.

The CLI is ``alloybench.cli_dft``; the ``dataset`` task (errors against these labels) is
``alloybench.tasks.dataset``.  Not done yet: labelling the fault, surface and committee kinds
(``alloybench dft set``), the expensive rows of the offset table (docs/dft.md).
"""
