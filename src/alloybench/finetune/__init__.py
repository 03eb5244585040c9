"""Fine-tuning: a foundation model trained further on N DFT structures with its family's
own trainer, saved as a model folder alloybench loads, and re-run through the suite
(the learning curve, ``alloybench finetune``).

settings   frozen, digested training settings and per-family defaults
data       labelled pools: reading, checking, digest, stratified nested draws, energy zero
sevennet   SevenNet's trainer (sevenn); chgnet: CHGNet's (chgnet.trainer.Trainer);
mace       MACE's (mace_run_train, in the mace family environment)
checkpoint the model folder (model.yaml + checkpoint + provenance.json)
evaluate   test-split energy/force/stress errors (until the dataset task replaces it)
sweep      the points of a learning curve, resumable; curve: the JSON/Markdown/figure
"""
