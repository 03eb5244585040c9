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
