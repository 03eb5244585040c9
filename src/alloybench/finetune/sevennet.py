"""SevenNet trainer: sevenn's own training code (sevenn.scripts.train.train_v2's steps).

An input.yaml in sevenn's format is written beside the checkpoint (``sevenn input.yaml``
re-runs the same training without early stopping), read with sevenn's own parser, and
trained with sevenn's ``Trainer`` and ``ErrorRecorder``; fine-tuning starts from the
base checkpoint through sevenn's ``processing_continue_v2`` (its shift, scale and
species are kept). The one step that is ours is the epoch loop, for early stopping on
the validation split (sevenn keeps only the best checkpoint) and a progress bar.
From scratch: the base checkpoint's architecture (every model key of its config),
species Al, Cu, Mg, Zn..., shift/scale/denominator from the training statistics, new weights.
"""

from __future__ import annotations

import time
from copy import deepcopy
from pathlib import Path
from typing import Any

from alloybench.errors import MissingExtra, UserError
from alloybench.finetune.base import EarlyStopping, EpochProgress, TrainJob, TrainResult
from alloybench.finetune.data import write_extxyz

CHECKPOINT = "checkpoint.pth"


def _model_section(base: Path) -> dict[str, Any]:
    """The architecture keys of the base checkpoint's config (what sevenn's model section holds)."""
    import sevenn._keys as KEY
    from sevenn._const import DEFAULT_E3_EQUIVARIANT_MODEL_CONFIG
    from sevenn.util import load_checkpoint

    cfg = load_checkpoint(str(base)).config
    if cfg.get(KEY.USE_MODALITY, False) or cfg.get(KEY.MODAL_MAP):
        raise UserError(f"SevenNet checkpoint {base.name} is multi-fidelity; fine-tuning here supports "
                        f"single-fidelity SevenNet checkpoints (sevennet-0, sevennet-l3i5)")
    keys = set(DEFAULT_E3_EQUIVARIANT_MODEL_CONFIG) | {KEY.IRREPS_MANUAL, KEY.CUTOFF, KEY.NODE_FEATURE_MULTIPLICITY}
    keys -= {KEY.CUEQUIVARIANCE_CONFIG, KEY.USE_FLASH_TP, KEY.USE_OEQ}
    out = {k: _plain(cfg[k]) for k in sorted(keys) if k in cfg}
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v.tolist()
    return v


def input_yaml(job: TrainJob, train_file: Path, valid_file: Path | None) -> dict[str, Any]:
    s = job.settings
    model = _model_section(job.base_weights)
    model["train_shift_scale"] = False
    model["train_denominator"] = False
    if s.mode == "finetune":
        model["chemical_species"] = "auto"  # overwritten by the checkpoint's (processing_continue_v2)
    else:
        model["chemical_species"] = list(job.elements)
        model["shift"] = "elemwise_reference_energies"
        model["scale"] = "force_rms"
        model["conv_denominator"] = "avg_num_neigh"
    sched = ({"scheduler": "exponentiallr", "scheduler_param": {"gamma": s.scheduler_gamma}}
             if s.scheduler == "exponential" else
             {"scheduler": "linearlr", "scheduler_param": {"start_factor": 1.0, "end_factor": 1e-4,
                                                           "total_iters": s.max_epochs}})
    train = {
        "random_seed": s.seed,
        "is_train_stress": job.has_stress and s.stress_weight > 0,
        "epoch": s.max_epochs,
        "loss": "Huber" if s.loss == "huber" else "mse",
        "optimizer": "adam",
        "optim_param": {"lr": s.lr},
        **sched,
        "force_loss_weight": s.force_weight,
        "per_epoch": s.max_epochs + 1,  # no periodic checkpoints: the best one is kept
        "error_record": [["Energy", "RMSE"], ["Force", "RMSE"], ["Stress", "RMSE"], ["TotalLoss", "None"]],
        "device": job.device,
    }
    if s.loss == "huber":
        train["loss_param"] = {"delta": s.huber_delta}
    if train["is_train_stress"]:
        train["stress_loss_weight"] = s.stress_weight
    else:
        train["error_record"] = [["Energy", "RMSE"], ["Force", "RMSE"], ["TotalLoss", "None"]]
    if s.mode == "finetune":
        train["continue"] = {"checkpoint": str(job.base_weights), "reset_optimizer": True, "reset_scheduler": True,
                             "reset_epoch": True}
    data = {"batch_size": s.batch_size, "load_trainset_path": [str(train_file)], "data_format_args": {"index": ":"}}
    if valid_file is not None:
        data["load_validset_path"] = [str(valid_file)]
    return {"model": model, "train": train, "data": data}


def train(job: TrainJob, progress: EpochProgress | None = None) -> TrainResult:
    try:
        import sevenn
        import sevenn._keys as KEY
        import torch
        import yaml
        from sevenn.error_recorder import ErrorRecorder
        from sevenn.logger import Logger
        from sevenn.model_build import build_E3_equivariant_model
        from sevenn.parse_input import read_config_yaml
        from sevenn.scripts.processing_continue import processing_continue_v2
        from sevenn.scripts.train import loader_from_config
        from sevenn.train import atoms_dataset
        from sevenn.train.trainer import Trainer
    except ImportError as exc:
        raise MissingExtra("SevenNet fine-tuning", "sevenn") from exc
    import random

    import numpy as np

    s = job.settings
    wd = job.workdir
    wd.mkdir(parents=True, exist_ok=True)
    train_file = wd / "train.extxyz"
    valid_file = wd / "valid.extxyz" if job.valid else None
    write_extxyz(train_file, job.train, job.energy_offsets)
    if valid_file is not None:
        write_extxyz(valid_file, job.valid, job.energy_offsets)
    (wd / "input.yaml").write_text(yaml.safe_dump(input_yaml(job, train_file, valid_file), sort_keys=False))

    t0 = time.perf_counter()
    with Logger(filename=str(wd / "log.sevenn"), screen=False):
        model_cfg, train_cfg, data_cfg = read_config_yaml(str(wd / "input.yaml"))
        train_cfg.update({KEY.IS_DDP: False, KEY.DDP_BACKEND: "nccl", KEY.LOCAL_RANK: 0, KEY.RANK: 0,
                          KEY.WORLD_SIZE: 1})
        config = {"version": sevenn.__version__, "when": time.ctime(), "_model_type": "E3_equivariant_model"}
        config.update(model_cfg)
        config.update(train_cfg)
        config.update(data_cfg)
        random.seed(s.seed)
        np.random.seed(s.seed)
        torch.manual_seed(s.seed)
        state_dicts = None
        if s.mode == "finetune":
            state_dicts, _ = processing_continue_v2(config)
        datasets = atoms_dataset.from_config(config, str(wd))
        loaders = {k: loader_from_config(config, v, is_train=(k == "trainset")) for k, v in datasets.items()}
        model = build_E3_equivariant_model(config)
        trainer = Trainer.from_config(model, config)
        if state_dicts:
            trainer.load_state_dicts(*state_dicts, strict=False)
        if "validset" not in loaders:  # N < 5: select on the training set, evaluated (eval mode) after each epoch
            loaders["trainset_eval"] = loader_from_config(config, datasets["trainset"], is_train=False)
        recorder = ErrorRecorder.from_config(config, trainer.loss_functions)
        recs = {k: deepcopy(recorder) for k in loaders}
        key = "validset" if "validset" in loaders else "trainset_eval"
        loss_key = recs[key].get_key_str("TotalLoss")
        history, stop = [], EarlyStopping(s.patience_epochs, can_stop=bool(job.valid))
        out = wd.parent / CHECKPOINT
        # epoch 0: the starting point's losses (the base model's, when fine-tuning)
        for epoch in range(0, s.max_epochs + 1):
            row: dict[str, float] = {"epoch": epoch, "lr": trainer.get_lr()}
            for k, loader in loaders.items():
                trainer.run_one_epoch(loader, is_train=(k == "trainset" and epoch > 0), error_recorder=recs[k])
                errs = recs[k].epoch_forward()
                row.update({f"{k}:{m}": float(v) for m, v in errs.items()})
            value = row[f"{key}:{loss_key}"]
            if epoch > 0:
                trainer.scheduler_step(value)  # the loss matters only to a plateau scheduler
            row["train_loss"] = row[f"trainset:{loss_key}"]
            row["valid_loss"] = value  # the selection loss (eval mode)
            history.append(row)
            if stop.update(epoch, value):
                trainer.write_checkpoint(str(out), config=config, epoch=epoch)
            if progress:
                progress(epoch, s.max_epochs, row)
            if stop.stopped:
                break
    wall = time.perf_counter() - t0
    return TrainResult(checkpoint=out, epochs_run=history[-1]["epoch"], best_epoch=stop.best_epoch, history=history,
                       device=str(trainer.device), trainer=f"sevenn {sevenn.__version__} (sevenn.train.trainer.Trainer)",
                       stopped_early=stop.stopped, notes={"train_seconds": wall, "selected_on": key})
