"""CHGNet trainer: chgnet.trainer.Trainer on chgnet.data.dataset.StructureData.

Fine-tuning starts from the base checkpoint's weights (models.families.chgnet.chgnet_model), from scratch
from a new CHGNet with the same hyper-parameters (CHGNet(**base.todict()['model_args'])).
Energies are per atom (eV/atom), forces eV/Å, stresses GPa in ASE's sign (what CHGNet's
calculator returns times its stress weight). The Trainer runs one epoch per call
(``starting_epoch``/``epochs``), so the early stopping and the progress bar are ours;
CHGNet's own model selection keeps bestE_*.pth.tar (lowest validation energy MAE), which
is the checkpoint saved.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time

import numpy as np
from ase import units

from alloybench.errors import MissingExtra
from alloybench.finetune.base import EarlyStopping, EpochProgress, TrainJob, TrainResult
from alloybench.models.families.chgnet import chgnet_model
from alloybench.finetune.data import shifted_energy

EV_PER_A3_TO_GPA = 1.0 / units.GPa
CHECKPOINT = "model.pth.tar"


def _dataset(frames, offsets, has_stress: bool):
    from chgnet.data.dataset import StructureData
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(f.atoms) for f in frames]
    energies = [(shifted_energy(f, offsets) if offsets else f.energy_eV) / f.natoms for f in frames]
    forces = [np.asarray(f.forces_eV_per_A).tolist() for f in frames]
    stresses = None
    if has_stress:
        stresses = []
        for f in frames:
            xx, yy, zz, yz, xz, xy = np.asarray(f.stress_eV_per_A3) * EV_PER_A3_TO_GPA
            stresses.append([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return StructureData(structures=structures, energies=energies, forces=forces, stresses=stresses)


def train(job: TrainJob, progress: EpochProgress | None = None) -> TrainResult:
    try:
        import chgnet
        import torch
        from chgnet.model import CHGNet
        from chgnet.trainer import Trainer
        from torch.utils.data import DataLoader
        from chgnet.data.dataset import collate_graphs
    except ImportError as exc:
        raise MissingExtra("CHGNet fine-tuning", "chgnet") from exc

    s = job.settings
    wd = job.workdir
    wd.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(s.seed)
    np.random.seed(s.seed)
    base = chgnet_model(job.base_weights)
    args = {k: v for k, v in base.todict()["model_args"].items() if k != "verbose"}
    model = base if s.mode == "finetune" else CHGNet(**args, verbose=False)
    train_set = _dataset(job.train, job.energy_offsets, job.has_stress)
    valid_set = _dataset(job.valid, job.energy_offsets, job.has_stress) if job.valid else train_set
    g = torch.Generator().manual_seed(s.seed)
    train_loader = DataLoader(train_set, batch_size=s.batch_size, shuffle=True, collate_fn=collate_graphs, generator=g)
    valid_loader = DataLoader(valid_set, batch_size=s.batch_size, shuffle=False, collate_fn=collate_graphs)
    targets = "efs" if job.has_stress and s.stress_weight > 0 else "ef"
    trainer = Trainer(model=model, targets=targets, energy_loss_ratio=s.energy_weight, force_loss_ratio=s.force_weight,
                      stress_loss_ratio=s.stress_weight, optimizer="Adam",
                      scheduler="CosLR" if s.scheduler == "cosine" else "ExponentialLR",
                      criterion="Huber" if s.loss == "huber" else "MSE", delta=s.huber_delta, epochs=s.max_epochs,
                      learning_rate=s.lr, torch_seed=s.seed, data_seed=s.seed, use_device=job.device,
                      print_freq=10**9)
    save_dir = wd / "chgnet"
    history, stop = [], EarlyStopping(s.patience_epochs, can_stop=bool(job.valid))
    t0 = time.perf_counter()
    log = io.StringIO()
    for epoch in range(s.max_epochs):
        trainer.starting_epoch, trainer.epochs = epoch, epoch + 1
        with contextlib.redirect_stdout(log):
            trainer.train(train_loader, valid_loader, save_dir=str(save_dir))
        h = trainer.training_history
        row = {"epoch": epoch + 1, "train_e_mae": h["e"]["train"][-1], "valid_e_mae": h["e"]["val"][-1],
               "train_f_mae": h["f"]["train"][-1], "valid_f_mae": h["f"]["val"][-1]}
        row["train_loss"], row["valid_loss"] = row["train_e_mae"], row["valid_e_mae"]
        history.append(row)
        stop.update(epoch + 1, row["valid_e_mae"])
        if progress:
            progress(epoch + 1, s.max_epochs, row)
        if stop.stopped:
            break
    (wd / "chgnet_trainer.log").write_text(log.getvalue())
    best_files = sorted(save_dir.glob("bestE_*.pth.tar"))
    out = wd.parent / CHECKPOINT
    # CHGNet's bestE file ({"model": model.as_dict(), ...}) is what models.families.chgnet.chgnet_model reads
    shutil.copyfile(best_files[-1], out)
    for f in save_dir.glob("*.pth.tar"):
        f.unlink()
    return TrainResult(checkpoint=out, epochs_run=history[-1]["epoch"], best_epoch=stop.best_epoch, history=history,
                       device=str(trainer.device), trainer=f"chgnet {chgnet.__version__} (chgnet.trainer.Trainer)",
                       stopped_early=stop.stopped, notes={"train_seconds": time.perf_counter() - t0,
                                                     "selected_on": "validset" if job.valid else "trainset",
                                                     "targets": targets})
