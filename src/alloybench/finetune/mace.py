"""MACE trainer: ``mace_run_train`` (mace-torch's own training script), in the mace family
environment (``alloybench env create mace``) when mace is not importable here.

Fine-tuning: ``--foundation_model BASE.model`` (naive fine-tuning of every weight,
``--multiheads_finetuning False``: the multi-head replay needs the foundation model's
training data, which is not shipped), E0s from the foundation model, the DFT energies moved to
its zero (see sweep). From scratch: the base model's r_max, channels, max_L and interactions,
E0s fitted by least squares to the training set (``--E0s average``). Early stopping is
mace_run_train's own (``--patience`` epochs without a lower validation loss); the model it
writes (``NAME.model``, the best-validation weights) is the checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from alloybench.errors import UserError
from alloybench.finetune.base import EpochProgress, TrainJob, TrainResult
from alloybench.finetune.data import shifted_energy

CHECKPOINT = "model.model"
_EPOCH = re.compile(r"Epoch\s+(\d+).*?loss=\s*([0-9.eE+-]+)")

# what the base model's architecture is, read in the environment that can load it
_ARCH = r"""
import json, sys, torch
m = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
hidden = str(m.products[0].linear.irreps_out) if hasattr(m, "products") else ""
print(json.dumps({"r_max": float(m.r_max), "num_interactions": int(m.num_interactions),
                  "hidden_irreps": hidden, "z": [int(z) for z in m.atomic_numbers]}))
"""


def _python() -> tuple[Path, Path]:
    """(python, mace_run_train) here or in the mace family environment."""
    import importlib.util
    import sys

    if importlib.util.find_spec("mace") is not None:
        exe = Path(sys.executable)
    else:
        from alloybench import envs

        if not envs.env_ready("mace"):
            raise UserError("MACE fine-tuning needs mace-torch: pip install 'alloybench[mace]' or "
                            "alloybench env create mace")
        exe = envs.env_python("mace")
    script = exe.parent / "mace_run_train"
    if not script.exists():
        raise UserError(f"no mace_run_train beside {exe}")
    return exe, script


def _write(path: Path, frames, offsets) -> None:
    from ase.io import write

    images = []
    for f in frames:
        a = f.atoms.copy()
        a.info = {"config_type": f.kind,
                  "REF_energy": shifted_energy(f, offsets) if offsets else f.energy_eV}
        a.arrays["REF_forces"] = np.asarray(f.forces_eV_per_A)
        if f.stress_eV_per_A3 is not None:
            a.info["REF_stress"] = np.asarray(f.stress_eV_per_A3)
        images.append(a)
    write(str(path), images, format="extxyz")


def train(job: TrainJob, progress: EpochProgress | None = None) -> TrainResult:
    from alloybench.envs import worker_environ

    s = job.settings
    python, script = _python()
    wd = job.workdir
    wd.mkdir(parents=True, exist_ok=True)
    train_file, valid_file = wd / "train.extxyz", wd / "valid.extxyz"
    _write(train_file, job.train, job.energy_offsets)
    _write(valid_file, job.valid or job.train, job.energy_offsets)  # N < 5: select on the training set
    arch = json.loads(subprocess.run([str(python), "-c", _ARCH, str(job.base_weights)], capture_output=True,
                                     text=True, check=True, env=worker_environ()).stdout.strip().splitlines()[-1])
    args = [str(python), str(script), "--name", "ft", "--work_dir", str(wd), "--seed", str(s.seed),
            "--train_file", str(train_file), "--valid_file", str(valid_file),
            "--energy_key", "REF_energy", "--forces_key", "REF_forces", "--stress_key", "REF_stress",
            "--loss", "huber" if s.loss == "huber" else "weighted", "--huber_delta", str(s.huber_delta),
            "--energy_weight", str(s.energy_weight), "--forces_weight", str(s.force_weight),
            "--stress_weight", str(s.stress_weight if job.has_stress else 0.0),
            "--compute_stress", "True" if job.has_stress else "False",
            "--lr", str(s.lr), "--scheduler", "ReduceLROnPlateau", "--lr_factor", str(s.scheduler_gamma),
            "--max_num_epochs", str(s.max_epochs), "--patience", str(s.patience_epochs),
            "--batch_size", str(s.batch_size), "--valid_batch_size", str(s.batch_size),
            "--device", job.device, "--default_dtype", str(s.option("default_dtype", "float64")),
            "--r_max", str(arch["r_max"]), "--eval_interval", "1", "--restart_latest", "--save_cpu"]
    if s.mode == "finetune":
        args += ["--foundation_model", str(job.base_weights), "--multiheads_finetuning", "False", "--E0s",
                 "foundation"]
    else:
        args += ["--model", "MACE", "--E0s", "average", "--num_interactions", str(arch["num_interactions"])]
        if arch["hidden_irreps"]:
            args += ["--hidden_irreps", arch["hidden_irreps"]]
    (wd / "command.txt").write_text(" ".join(args) + "\n")
    env = worker_environ({"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    env.pop("ALLOYBENCH_IN_WORKER", None)
    t0 = time.perf_counter()
    history: list[dict[str, float]] = []
    with open(wd / "mace_run_train.log", "w") as log:
        proc = subprocess.Popen(args, cwd=str(wd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            m = _EPOCH.search(line)
            if m and "Epoch" in line:
                row = {"epoch": int(m.group(1)), "valid_loss": float(m.group(2))}
                row["train_loss"] = row["valid_loss"]
                history.append(row)
                if progress:
                    progress(row["epoch"], s.max_epochs, row)
        rc = proc.wait()
    if rc != 0:
        tail = (wd / "mace_run_train.log").read_text().strip().splitlines()[-3:]
        raise RuntimeError(f"mace_run_train failed (exit {rc}): {' | '.join(tail)}")
    found = [p for p in (wd / "ft.model", wd / "checkpoints" / "ft.model") if p.exists()]
    if not found:
        raise RuntimeError(f"mace_run_train wrote no ft.model in {wd}")
    out = wd.parent / CHECKPOINT
    shutil.copyfile(found[0], out)
    best = min(history, key=lambda r: r["valid_loss"])["epoch"] if history else 0
    version = subprocess.run([str(python), "-c", "import mace; print(mace.__version__)"], capture_output=True,
                             text=True, env=worker_environ()).stdout.strip()
    return TrainResult(checkpoint=out, epochs_run=history[-1]["epoch"] if history else 0, best_epoch=best,
                       history=history, device=job.device, trainer=f"mace-torch {version} (mace_run_train)",
                       stopped_early=bool(history) and history[-1]["epoch"] < s.max_epochs,
                       notes={"train_seconds": time.perf_counter() - t0, "arch": arch,
                              "selected_on": "validset" if job.valid else "trainset"})
