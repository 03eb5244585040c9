"""Tiny untrained models built with each family's own library and saved where the
family's loader reads them, so the real loading code runs offline (family envs only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mace(path: Path) -> Path:
    import torch
    from mace import modules  # first: mace lets e3nn 0.4's torch.load of its constants through
    from e3nn import o3

    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=4.5, num_bessel=4, num_polynomial_cutoff=3, max_ell=1, interaction_cls=block,
        interaction_cls_first=block, num_interactions=2, num_elements=4, hidden_irreps=o3.Irreps("8x0e+8x1o"),
        MLP_irreps=o3.Irreps("8x0e"), atomic_energies=np.array([-3.7, -3.0, -1.5, -1.2]), avg_num_neighbors=12.0,
        atomic_numbers=[12, 13, 29, 30], correlation=2, gate=torch.nn.functional.silu, radial_MLP=[16, 16],
        radial_type="bessel", atomic_inter_scale=1.0, atomic_inter_shift=0.0)
    model = model.double()
    torch.save(model, path)
    return path


def orb(folder: Path) -> tuple[Path, str]:
    """ORB v3 (conservative, unlimited neighbours) with random weights: the state dict
    that orb_models' own loader reads, named like the released checkpoint."""
    import torch
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.atomic_system import SystemConfig

    torch.manual_seed(0)
    model = pretrained.orb_v3_conservative_architecture(system_config=SystemConfig(radius=6.0, max_num_neighbors=120))
    path = folder / "orb-v3-conservative-inf-omat-20990101.ckpt"
    torch.save(model.state_dict(), path)
    return path, "orb_v3_conservative_inf_omat"


def mattersim(path: Path) -> Path:
    """A two-block M3GNet in MatterSim's own checkpoint format (Potential.save)."""
    import torch
    from mattersim.forcefield.m3gnet.m3gnet import M3Gnet
    from mattersim.forcefield.potential import Potential

    torch.manual_seed(0)
    model = M3Gnet(num_blocks=2, units=16, max_l=2, max_n=2, cutoff=5.0, threebody_cutoff=4.0, device="cpu")
    Potential(model, device="cpu").save(str(path))
    return path


def metatomic(folder: Path) -> Path:
    """An untrained PET (metatrain's architecture of PET-MAD), exported as metatomic .pt
    like the released PET-MAD/uPET models."""
    import torch
    from metatomic.torch import ModelMetadata
    from metatrain.pet import PET
    from metatrain.utils.architectures import get_default_hypers
    from metatrain.utils.data import DatasetInfo
    from metatrain.utils.data.target_info import get_energy_target_info

    torch.manual_seed(0)
    hypers = get_default_hypers("pet", base_precision=64)["model"]
    info = DatasetInfo(length_unit="Angstrom", atomic_types=[12, 13, 29, 30],
                       targets={"energy": get_energy_target_info("energy", {"quantity": "energy", "unit": "eV"},
                                                                 add_position_gradients=True,
                                                                 add_strain_gradients=True)})
    model = PET(hypers, info).to(torch.float64)
    path = folder / "pet-tiny.pt"
    model.export(metadata=ModelMetadata(name="tiny PET")).save(str(path))
    return path


def grace(folder: Path) -> Path:
    """A one-layer GRACE with random weights, saved as the TensorFlow SavedModel folder
    that GRACE foundation models are distributed as."""
    import tensorflow as tf
    from tensorpotential import TensorPotential
    from tensorpotential.potentials.presets import GRACE_1LAYER_v1_24

    tf.random.set_seed(0)
    instructions = GRACE_1LAYER_v1_24(element_map={"Mg": 0, "Al": 1, "Cu": 2, "Zn": 3}, rcut=5.0, embedding_size=8,
                                      lmax=2, n_rad_max=8, n_mlp_dens=4, max_order=2)
    tp = TensorPotential(potential=instructions.get_instructions(), param_dtype=tf.float64)
    path = folder / "GRACE-tiny"
    tp.save_model_with_aux_computes(exact_path=str(path), jit_compile=False)
    return path


def _emt_frames(n: int = 4):
    """A few rattled Al/Cu fcc cells labelled with ASE's EMT (energy, forces, stress)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    frames = []
    for i in range(n):
        atoms = bulk("Cu" if i % 2 else "Al", "fcc", a=3.75 + 0.1 * (i // 2), cubic=True)
        atoms[0].symbol = "Al" if i % 2 else "Cu"
        atoms.rattle(0.05, seed=i)
        atoms.calc = EMT()
        atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        frames.append(atoms)
    return frames


def nequip(folder: Path, arch: str = "nequip", compiled: bool = False) -> Path:
    """A one-layer NequIP (or Allegro) trained for two steps on EMT-labelled Al/Cu cells
    with ``nequip-train``, then ``nequip-package``d (.nequip.zip, what nequip.net serves)
    or ``nequip-compile``d for ASE (.nequip.pt2, AOTInductor: needs a C++ compiler)."""
    import os
    import subprocess
    import sys

    import yaml
    from ase.io import write

    write(folder / "emt.xyz", _emt_frames(), format="extxyz")
    types = ["Al", "Cu", "Mg", "Zn"]
    common = {"seed": 0, "model_dtype": "float64", "type_names": types, "r_max": 4.5, "avg_num_neighbors": 12.0,
              "per_type_energy_shifts": {"Al": -3.7, "Cu": -3.5, "Mg": -1.5, "Zn": -1.2},
              "per_type_energy_scales": 0.5}
    if arch == "allegro":
        model = {"_target_": "allegro.model.AllegroModel", **common, "l_max": 1, "num_layers": 1,
                 "num_scalar_features": 8, "num_tensor_features": 4, "allegro_mlp_hidden_layers_width": 8,
                 "scalar_embed_mlp_hidden_layers_width": 8, "readout_mlp_hidden_layers_width": 8,
                 "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 4}}
    else:
        model = {"_target_": "nequip.model.NequIPGNNModel", **common, "l_max": 1, "num_layers": 1,
                 "num_features": 4, "radial_mlp_depth": 1, "radial_mlp_width": 8, "num_bessels": 4}
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": 1}
    config = {
        "run": ["train"],
        "seed": 0,
        "data": {
            "_target_": "nequip.data.datamodule.NequIPDataModule", "seed": 0,
            "split_dataset": {"dataset": {
                "_target_": "nequip.data.dataset.ASEDataset", "file_path": str(folder / "emt.xyz"),
                "transforms": [
                    {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "model_type_names": types},
                    {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 4.5}]},
                "train": 3, "val": 1},
            "train_dataloader": loader, "val_dataloader": loader},
        "trainer": {
            "_target_": "lightning.Trainer", "max_steps": 2, "logger": False, "enable_progress_bar": False,
            "enable_model_summary": False, "num_sanity_val_steps": 0, "limit_val_batches": 0,
            "callbacks": [{"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": str(folder),
                           "filename": "tiny"}]},
        "training_module": {
            "_target_": "nequip.train.NequIPLightningModule",
            "loss": {"_target_": "nequip.train.EnergyForceStressLoss", "per_atom_energy": True,
                     "coeffs": {"total_energy": 1.0, "forces": 1.0, "stress": 1.0}},
            "val_metrics": {"_target_": "nequip.train.EnergyForceStressMetrics"},
            "optimizer": {"_target_": "torch.optim.Adam", "lr": 0.01},
            "model": model},
    }
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    bin_dir = Path(sys.executable).parent

    def run(*args):
        done = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=folder, capture_output=True, text=True,
                              env=dict(os.environ, HYDRA_FULL_ERROR="1"))
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stderr[-4000:]}")

    run("nequip-train", "-cp", str(folder), "-cn", "tiny", f"hydra.run.dir={folder / 'run'}")
    ckpt = folder / "tiny.ckpt"
    if compiled:
        path = folder / f"{arch}-tiny.nequip.pt2"
        run("nequip-compile", str(ckpt), str(path), "--mode", "aotinductor", "--device", "cpu", "--target", "ase")
    else:
        path = folder / f"{arch}-tiny.nequip.zip"
        run("nequip-package", "build", str(ckpt), str(path))
    return path


def fairchem(folder: Path) -> Path:
    """A two-layer UMA-style model (eSCN-MD backbone with two mixture-of-linear-experts,
    one conservative energy/forces/stress head for the OMat task) with random weights,
    saved as the inference checkpoint that fairchem's training writes and
    ``load_predict_unit`` reads (``MLIPInferenceCheckpoint``)."""
    import hydra
    import torch
    from fairchem.core.units.mlip_unit.api.inference import MLIPInferenceCheckpoint

    torch.manual_seed(0)
    model_config = {
        "_target_": "fairchem.core.models.base.HydraModel",
        "pass_through_head_outputs": True,
        "model_id": "UMA-tiny-0.1",  # fairchem refuses untagged mixture-of-experts (UMA) checkpoints
        "backbone": {
            "model": "fairchem.core.models.uma.escn_moe.eSCNMDMoeBackbone", "num_experts": 2,
            "use_composition_embedding": True, "max_num_elements": 100, "sphere_channels": 8, "lmax": 1,
            "mmax": 1, "otf_graph": True, "max_neighbors": 30, "cutoff": 5.0, "edge_channels": 8,
            "num_distance_basis": 16, "regress_forces": True, "direct_forces": False, "regress_stress": True,
            "num_layers": 2, "hidden_channels": 8, "norm_type": "rms_norm_sh", "act_type": "gate",
            "ff_type": "spectral", "dataset_mapping": {"omat": "omat"}},
        "heads": {"efs": {"module": "fairchem.core.models.uma.escn_moe.DatasetSpecificSingleHeadWrapper",
                          "head_cls": "fairchem.core.models.uma.escn_md.MLP_EFS_Head",
                          "head_kwargs": {"wrap_property": False}, "dataset_names": ["omat"]}},
    }
    model = hydra.utils.instantiate(model_config)
    ema = torch.optim.swa_utils.AveragedModel(model)
    refs = [0.0] * 100
    refs[12], refs[13], refs[29], refs[30] = -1.5, -3.7, -3.7, -1.2

    def task(prop, level, dim, **extra):
        return {"_target_": "fairchem.core.units.mlip_unit.mlip_unit.Task", "name": f"omat_{prop}", "level": level,
                "property": prop, "out_spec": {"_target_": "fairchem.core.units.mlip_unit.mlip_unit.OutputSpec",
                                               "dim": dim, "dtype": "float32"},
                "normalizer": {"_target_": "fairchem.core.modules.normalization.normalizer.Normalizer",
                               "mean": 0.0, "rmsd": 1.0},
                "datasets": ["omat"], **extra}

    tasks_config = [
        task("energy", "system", [1], element_references={
            "_target_": "fairchem.core.modules.normalization.element_references.ElementReferences",
            "element_references": {"_target_": "torch.DoubleTensor", "_args_": [refs]}}),
        task("forces", "atom", [3]),
        task("stress", "system", [1, 9]),
    ]
    path = folder / "uma-tiny.pt"
    torch.save(MLIPInferenceCheckpoint(model_config=model_config, model_state_dict=model.state_dict(),
                                       ema_state_dict=ema.state_dict(), tasks_config=tasks_config), path)
    return path


def ace(folder: Path) -> tuple[Path, Path]:
    """A small four-element ACE (Al, Cu, Mg, Zn; ranks 1-2, l <= 1, 5 Å cutoff) with
    fixed pseudo-random coefficients, built with python-ace's own API: the B-basis
    ``.yaml`` that pacemaker writes, and the ``.yace`` that LAMMPS ``pair_style pace``
    reads, converted as ``pace_yaml2yace`` does."""
    from pyace import ACEBBasisSet, create_multispecies_basis_config

    config = create_multispecies_basis_config({
        "deltaSplineBins": 0.001,
        "elements": ["Al", "Cu", "Mg", "Zn"],
        "embeddings": {"ALL": {"npot": "FinnisSinclairShiftedScaled", "fs_parameters": [1, 1, 1, 0.5],
                               "ndensity": 2}},
        "bonds": {"ALL": {"radbase": "SBessel", "radparameters": [5.25], "rcut": 5.0, "dcut": 0.01,
                          "NameOfCutoffFunction": "cos"}},
        "functions": {"ALL": {"nradmax_by_orders": [4, 2], "lmax_by_orders": [0, 1]}},
    })
    # four-species blocks have no functions at rank 2; pyace's reader complains about empty blocks on stderr
    config.funcspecs_blocks = [b for b in config.funcspecs_blocks if b.funcspecs]
    n = len(config.get_func_coeffs())
    config.set_func_coeffs(list(0.1 * np.random.default_rng(0).standard_normal(n)))  # radial ones stay as made
    yaml_path = folder / "ace-tiny.yaml"
    config.save(str(yaml_path))
    yace_path = folder / "ace-tiny.yace"
    ACEBBasisSet(str(yaml_path)).to_ACECTildeBasisSet().save_yaml(str(yace_path))
    return yaml_path, yace_path
