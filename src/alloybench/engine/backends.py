"""Batched backends: each evaluates a list of structures in one model call.

``alloybench.engine.batched.BatchedEngine`` drives them; each model family's module
(``alloybench.models.families``) says which backend its models get (``Family.batched``).

- ``TorchSimBackend``: any torch-sim ModelInterface (``sevenn.torchsim.SevenNetModel``
  needs torch-sim >= 0.4, which needs Python >= 3.12; MACE/others through their
  torch-sim wrappers).
- ``SevenNetBackend``: SevenNet checkpoints batched with sevenn's own graph
  collation; no torch-sim needed (Python 3.11 and CPU CI).
- ``CHGNetBackend``: CHGNet's own batched ``predict_graph``.
- ``MatglBackend``: matgl potentials on a PyG ``Batch`` of graphs.
- ``DeepMDBackend``: DeePMD/DPA frames in one ``DeepPot.eval`` per size group
  (smaller frames padded with virtual atoms).
- ``CalculatorBackend``: loops one ASE calculator (no speed-up); the torch-free
  stand-in that tests the broker with EMT.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError

from alloybench.errors import UserError
from alloybench.models.families.base import threads

VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))  # ASE order: xx yy zz yz xz xy


@dataclass
class Evaluation:
    """One structure's model output: eV, eV/Å, Voigt eV/Å^3 with ASE's sign (None: no stress)."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None


class Backend(Protocol):
    name: str
    device: str

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        """Energies, forces and stresses of all structures in one batched call."""


def _per_structure(structures: list[Atoms], energy: np.ndarray, forces: np.ndarray,
                   stress: np.ndarray | None) -> list[Evaluation]:
    """Split one batched output (energies per structure, forces of all atoms concatenated,
    Voigt stresses per structure or None) into one Evaluation per structure."""
    bounds = np.cumsum([0] + [len(a) for a in structures])
    return [Evaluation(float(energy[k]), forces[bounds[k]:bounds[k + 1]], None if stress is None else stress[k])
            for k in range(len(structures))]


class _CallStats:
    """Batched calls made and their sizes, counted by every backend (for tests and the engine's statistics)."""

    def __init__(self) -> None:
        self.calls = 0
        self.batch_sizes: list[int] = []

    def _count(self, structures: list[Atoms]) -> None:
        self.calls += 1
        self.batch_sizes.append(len(structures))


class CalculatorBackend(_CallStats):
    """One ASE calculator applied to each structure in turn (no batching speed-up)."""

    name = "ase-loop"
    device = "cpu"

    def __init__(self, make_calculator: Callable[[], Calculator]):
        self._calc = make_calculator()
        super().__init__()

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        self._count(structures)
        out = []
        for atoms in structures:
            a = atoms.copy()
            a.calc = self._calc
            energy = float(a.get_potential_energy())
            forces = np.array(a.get_forces(apply_constraint=False))
            try:
                stress = np.array(a.get_stress(voigt=True, apply_constraint=False))
            except PropertyNotImplementedError:
                stress = None
            out.append(Evaluation(energy, forces, stress))
        return out


def _full_to_voigt(s: np.ndarray) -> np.ndarray:
    return np.array([s[..., i, j] for i, j in VOIGT]).T


class TorchSimBackend(_CallStats):
    """A torch-sim ``ModelInterface``: all structures in one SimState, one forward call."""

    name = "torch-sim"

    def __init__(self, model: Any):
        import torch_sim as ts  # noqa: F401  (fail early with ImportError)

        self.model = model
        self.device = str(model.device)
        super().__init__()

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import torch
        import torch_sim as ts

        self._count(structures)
        state = ts.io.atoms_to_state(structures, device=self.model.device, dtype=self.model.dtype)
        out = self.model(state)
        energy = out["energy"].detach().to(torch.float64).cpu().numpy().reshape(-1)
        forces = out["forces"].detach().to(torch.float64).cpu().numpy()
        stress = out.get("stress")
        stress = _full_to_voigt(stress.detach().to(torch.float64).cpu().numpy()).reshape(len(structures), 6) \
            if stress is not None else None
        return _per_structure(structures, energy, forces, stress)


class SevenNetBackend(_CallStats):
    """SevenNet checkpoint, structures collated into one sevenn graph batch (no torch-sim)."""

    name = "sevenn-batch"

    def __init__(self, checkpoint: str, device: str = "cpu", modal: str | None = None, enable_cueq: bool = False):
        import torch
        from sevenn.util import load_checkpoint

        cp = load_checkpoint(checkpoint)
        kwargs = {"enable_cueq": True} if enable_cueq else {}
        model = cp.build_model(**kwargs)
        model.set_is_batch_data(True)
        model.eval_type_map = torch.tensor(True)
        self.cutoff = float(model.cutoff)
        self.type_map = dict(model.type_map)
        self.modal = modal
        self.device = str(torch.device(device))
        self.model = model.to(self.device).eval()
        super().__init__()

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import sevenn._keys as KEY
        import torch
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph
        from torch_geometric.loader.dataloader import Collater

        self._count(structures)
        graphs = []
        for atoms in structures:
            unknown = set(atoms.numbers.tolist()) - set(self.type_map)
            if unknown:
                raise ValueError(f"model does not know atomic number(s) {sorted(unknown)}")
            g = AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(atoms, self.cutoff, with_shift=False))
            if self.modal:
                g[KEY.DATA_MODALITY] = self.modal
            graphs.append(g)
        batch = Collater([], follow_batch=None, exclude_keys=None)(graphs).to(self.device)
        out = self.model(batch)
        energy = out[KEY.PRED_TOTAL_ENERGY].detach().to(torch.float64).cpu().numpy().reshape(-1)
        forces = out[KEY.PRED_FORCE].detach().to(torch.float64).cpu().numpy()
        stress = -out[KEY.PRED_STRESS].detach().to(torch.float64).cpu().numpy().reshape(-1, 6)[:, [0, 1, 2, 4, 5, 3]]
        return _per_structure(structures, energy, forces, stress)


class CHGNetBackend(_CallStats):
    """CHGNet, structures batched by CHGNet's own ``predict_graph`` (no torch-sim wrapper exists).

    Takes the adapter's ``CHGNetCalculator`` so model, device and stress unit are the
    ones the serial engine uses; graphs are built on the CPU one by one (as the
    calculator does), the forward pass is one batch."""

    name = "chgnet-batch"
    # CHGNet's line-graph construction is a pure-Python loop (~0.13 s for 256 atoms,
    # holding the GIL): a batch of 100+ cells would spend seconds per step on one core
    # while the GPU waits, so large batches build their graphs in worker processes
    pool_min_structures = 8

    def __init__(self, calculator: Calculator, graph_workers: int | None = None):
        self.model = calculator.model
        self.device = str(calculator.device)
        self.stress_weight = float(calculator.stress_weight)  # GPa -> eV/Å^3
        self.graph_workers = _graph_workers() if graph_workers is None else graph_workers
        self._pool = None
        super().__init__()

    def _graphs(self, structures: list[Atoms]) -> list:
        from pymatgen.io.ase import AseAtomsAdaptor

        crystals = [AseAtomsAdaptor.get_structure(a) for a in structures]
        if self.graph_workers < 2 or len(crystals) < self.pool_min_structures:
            return [self.model.graph_converter(c) for c in crystals]
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn: the parent may hold a CUDA context, which forked children must not inherit
            self._pool = ProcessPoolExecutor(self.graph_workers, mp_context=mp.get_context("spawn"),
                                             initializer=_chgnet_pool_init, initargs=(self.model.graph_converter,))
        chunk = max(1, len(crystals) // (4 * self.graph_workers))  # small chunks: big cells come first
        try:
            return [pickle.loads(g) for g in self._pool.map(_chgnet_graph, crystals, chunksize=chunk)]
        except BrokenProcessPool:  # a worker died (killed, out of host memory): build here from now on
            self.close()
            self.graph_workers = 0
            return [self.model.graph_converter(c) for c in crystals]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        from ase.stress import full_3x3_to_voigt_6_stress

        self._count(structures)
        graphs = [g.to(self.device) for g in self._graphs(structures)]
        preds = self.model.predict_graph(graphs, task="efs", batch_size=len(graphs))
        if isinstance(preds, dict):  # CHGNet unwraps a batch of one
            preds = [preds]
        out = []
        for atoms, p in zip(structures, preds):
            factor = len(atoms) if self.model.is_intensive else 1  # 'e' is eV/atom for intensive models
            stress = full_3x3_to_voigt_6_stress(np.asarray(p["s"], dtype=float)) * self.stress_weight
            out.append(Evaluation(float(p["e"]) * factor, np.asarray(p["f"], dtype=float), stress))
        return out


def _graph_workers() -> int:
    """Graph-building processes: the cores this process may use less the one running
    the engine, at most 16."""
    return max(0, min(16, threads() - 1))


_POOL_CONVERTER = None


def _chgnet_pool_init(converter) -> None:
    import torch

    torch.set_num_threads(1)
    global _POOL_CONVERTER
    _POOL_CONVERTER = converter


def _chgnet_graph(structure) -> bytes:
    # plain pickle: torch's multiprocessing reducers would pass each tensor as a file descriptor
    return pickle.dumps(_POOL_CONVERTER(structure))


class MatglBackend(_CallStats):
    """matgl potentials (M3GNet, TensorNet, CHGNet-matgl): structures collated into one
    PyG ``Batch`` and passed through the adapter's ``Potential`` in one call.

    Takes the adapter's ``PESCalculator`` so graph converter, state attributes and the
    stress unit (GPa -> eV/Å^3, ASE sign) are exactly those of the serial engine."""

    name = "matgl-batch"

    def __init__(self, calculator: Calculator):
        # what this backend does not express makes the engine fall back to the serial path
        if not hasattr(calculator, "_atoms2graph") or not hasattr(calculator, "conversion_factor"):
            raise UserError("matgl batched backend needs matgl >= 2 (PyG graphs); using the serial engine")
        if getattr(calculator, "state_attr", None) is not None:
            raise UserError("matgl batched backend: fixed state attributes are not batched; using the serial engine")
        if not getattr(calculator.potential, "calc_stresses", False):
            raise UserError("matgl batched backend: the potential computes no stress; using the serial engine")
        self.calc = calculator
        self.potential = calculator.potential
        self.device = str(self.potential.data_mean.device)
        super().__init__()

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import torch
        from ase.stress import full_3x3_to_voigt_6_stress
        from torch_geometric.data import Batch

        self._count(structures)
        graphs, lattices, states = [], [], []
        for atoms in structures:
            g, lat, state = self.calc._atoms2graph.get_graph(atoms)
            graphs.append(g)
            lattices.append(lat.reshape(1, 3, 3))
            states.append(torch.as_tensor(state).reshape(1, -1))
        batch = Batch.from_data_list(graphs)
        energy, forces, stress = self.potential(batch, torch.cat(lattices), torch.cat(states))[:3]
        energy = energy.detach().to(torch.float64).cpu().numpy().reshape(-1)
        forces = forces.detach().to(torch.float64).cpu().numpy()
        stress = stress.detach().to(torch.float64).cpu().numpy().reshape(-1, 3, 3)
        voigt = np.array([full_3x3_to_voigt_6_stress(x) for x in stress]) * self.calc.conversion_factor
        return _per_structure(structures, energy, forces, voigt)


class DeepMDBackend(_CallStats):
    """DeePMD / DPA models: frames evaluated together by ``DeepPot.eval(..., mixed_type=True)``
    (per-frame atom types), smaller frames padded with virtual atoms up to the group's size.

    Takes the adapter's ``deepmd.calculator.DP`` (same model, type map and stress
    convention, stress = -virial / volume, as its ``calculate``)."""

    name = "deepmd-batch"

    # max_padding and pad_atoms are set per device in __init__ (_padding_policy)
    pad_call_atoms = 1024  # padding by atoms only while a call stays this small

    def __init__(self, calculator: Calculator):
        self.dp = calculator.dp
        self.type_dict = dict(calculator.type_dict)
        # PyTorch models take per-frame types (mixed_type); other backends reorder every
        # frame by the first frame's types, so there only frames of identical types batch
        backend = type(getattr(self.dp, "deep_eval", self.dp)).__module__
        self.mixed_types = backend.startswith("deepmd.pt")
        try:
            from deepmd.pt.utils.env import DEVICE

            self.device = str(DEVICE)
        except ImportError:
            self.device = "cpu"
        self.max_padding, self.pad_atoms = _padding_policy(self.device)
        self.peak_atoms = 0  # atoms of the last call's largest DeepPot.eval (the engine's CPU memory gauge)
        super().__init__()

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        self._count(structures)
        for atoms in structures:
            unknown = set(atoms.get_chemical_symbols()) - set(self.type_dict)
            if unknown:
                raise ValueError(f"model has no type for {sorted(unknown)}")
        out: list[Evaluation | None] = [None] * len(structures)
        groups = self._groups(structures)
        self.peak_atoms = max((width * len(idx) for width, idx in groups), default=0)
        for width, idx in groups:
            frames = [structures[i] for i in idx]
            coords = np.zeros((len(frames), width, 3))
            types = np.full((len(frames), width), -1, dtype=int)  # -1: a virtual atom, masked by the model
            for k, a in enumerate(frames):
                coords[k, :len(a)] = a.get_positions()
                types[k, :len(a)] = [self.type_dict[s] for s in a.get_chemical_symbols()]
            cells = np.stack([np.asarray(a.get_cell()).reshape(-1) for a in frames])
            by_frame = ({"atom_types": types, "mixed_type": True} if self.mixed_types
                        else {"atom_types": types[0].tolist()})
            e, f, v = self.dp.eval(coords=coords.reshape(len(frames), -1), cells=cells, **by_frame)[:3]
            for k, (i, atoms) in enumerate(zip(idx, frames)):
                # as deepmd.calculator.DP: -virial / volume, read in Voigt order from the flat 3x3
                stress = (-np.asarray(v[k], dtype=float).reshape(9) / atoms.get_volume())[[0, 4, 8, 5, 2, 1]]
                out[i] = Evaluation(float(np.asarray(e[k]).reshape(-1)[0]),
                                    np.asarray(f[k], dtype=float).reshape(width, 3)[:len(atoms)], stress)
        return out  # type: ignore[return-value]

    def _groups(self, structures: list[Atoms]) -> list[tuple[int, list[int]]]:
        """(padded width, frame indices) per ``DeepPot.eval`` call."""
        if not self.mixed_types:  # other backends reorder frames by the first frame's types
            exact: dict[tuple[int, ...], list[int]] = {}
            for i, a in enumerate(structures):
                exact.setdefault((len(a), *a.numbers.tolist()), []).append(i)
            return [(key[0], idx) for key, idx in exact.items()]
        groups: list[tuple[int, list[int]]] = []
        for i in sorted(range(len(structures)), key=lambda i: -len(structures[i])):
            n = len(structures[i])
            width, members = groups[-1] if groups else (0, [])
            small_call = width * (len(members) + 1) <= self.pad_call_atoms
            if groups and (n * (1 + self.max_padding) >= width or (width - n <= self.pad_atoms and small_call)):
                groups[-1][1].append(i)
            else:
                groups.append((n, [i]))
        return groups


def _padding_policy(device: str) -> tuple[float, int]:
    """(max_padding, pad_atoms) of the DeePMD backend on ``device``.  Measured
    (benchmarks/deepmd_batch.py, docs/performance_gpu.md Session 5): on an H200 a DPA3 call
    costs ~0.15-0.2 s whatever its size up to ~1000 atoms and ~0.2 ms per atom beyond, so
    while a call stays under ``pad_call_atoms`` a padded atom is far cheaper than another
    call: a frame is padded by up to 25% or 128 atoms.  On a CPU the cost follows the atoms
    (20 small slabs padded into 4 calls took 1.5x the time of 8 exact-size calls): exact
    sizes only."""
    return (0.25, 128) if device.startswith("cuda") else (0.0, 0)


def torch_sim_available() -> str | None:
    """None if a torch-sim new enough for ``sevenn.torchsim`` imports, else why not."""
    try:
        import torch_sim  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install
        return f"torch_sim not importable ({type(exc).__name__}: {exc})"
    try:
        from torch_sim.neighbors import torchsim_nl  # noqa: F401  (torch-sim >= 0.4)
    except Exception:
        return "torch_sim too old for sevenn.torchsim (needs >= 0.4, which needs Python >= 3.12)"
    return None


__all__ = ["Backend", "CHGNetBackend", "CalculatorBackend", "DeepMDBackend", "Evaluation", "MatglBackend",
           "SevenNetBackend", "TorchSimBackend", "torch_sim_available"]
