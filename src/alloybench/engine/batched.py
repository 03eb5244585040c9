"""Batched engine: many Jobs advance together, one model call per step for all of them.

How it works
------------
Every Job runs in its own worker thread through the *same* code as the serial
engine (:func:`alloybench.engine.serial.run_job`: ASE FIRE/BFGS,
FrechetCellFilter with the Job's cell mask, FixAtoms, FixCartesian, the same
convergence test and failure checks).  The worker's calculator does not
compute: it hands its structure to a broker and waits.  Once every live worker
is waiting (or finished), the broker evaluates all waiting structures in one
batched model call (a torch-sim ``ModelInterface``, or SevenNet's own graph
batching), hands each worker its energy, forces and stress, and the workers
take their next optimiser step.  So relaxations run in lock-step, batched on
the device, while each trajectory is the one the serial engine would follow
(up to float32 summation order in the model): the same Jobs, the same answers.

Static Jobs (relax None) cost one batched call; relaxations of any kind (full
or masked cell, fixed atoms, free directions, FIRE or BFGS) are expressed the
same way, so nothing needs a separate code path.  Jobs the batched model cannot
take (an element it lacks, a structure that makes the batched call fail) are
retried one by one; a Job whose single evaluation still fails is recorded as a
failure by ``run_job`` exactly as the serial engine would.

Memory: workers are admitted while their atoms fit a budget (``max_atoms``);
as Jobs finish, new ones are admitted (in-flight batching).  On CUDA the first
batch is a probe of at most ``probe_atoms``; its peak memory per atom sets the
budget to ``memory_fraction`` of the memory still free on the card (other
processes sharing it keep theirs); a CUDA out-of-memory error halves
the batch and the budget.  On the CPU an exhausted host is not an exception but a
killed process, so the budget is calibrated before it grows: the first batch is
at most ``cpu_probe_atoms``; every call's peak resident memory per atom is measured
(``alloybench.hostmem``), and the largest seen caps the budget at ``memory_fraction``
of what the host (or the container's limit) can still give, and at 4096 atoms.  DPA3 on
the CPU takes ~47 MB per atom (one 256-atom cell adds 11.7 GB resident; docs/performance.md):
two such cells in one call killed a 24 GB host.

Backends (``make_backend``):
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
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from alloybench import hostmem
from alloybench.errors import MissingExtra, UserError
from alloybench.jobs import Job, Result
from alloybench.engine.serial import SerialEngine, run_job

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


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return "out of memory" in text.lower() or type(exc).__name__ == "OutOfMemoryError"


# --------------------------------------------------------------------------- backends


def _per_structure(structures: list[Atoms], energy: np.ndarray, forces: np.ndarray,
                   stress: np.ndarray | None) -> list[Evaluation]:
    """Split one batched output (energies per structure, forces of all atoms concatenated,
    Voigt stresses per structure or None) into one Evaluation per structure."""
    bounds = np.cumsum([0] + [len(a) for a in structures])
    return [Evaluation(float(energy[k]), forces[bounds[k]:bounds[k + 1]], None if stress is None else stress[k])
            for k in range(len(structures))]


class CalculatorBackend:
    """One ASE calculator applied to each structure in turn (no batching speed-up)."""

    name = "ase-loop"
    device = "cpu"

    def __init__(self, make_calculator: Callable[[], Calculator]):
        self._calc = make_calculator()
        self.calls = 0  # batched calls made (for tests and statistics)
        self.batch_sizes: list[int] = []

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        self.calls += 1
        self.batch_sizes.append(len(structures))
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


class TorchSimBackend:
    """A torch-sim ``ModelInterface``: all structures in one SimState, one forward call."""

    name = "torch-sim"

    def __init__(self, model: Any):
        import torch_sim as ts  # noqa: F401  (fail early with ImportError)

        self.model = model
        self.device = str(model.device)
        self.calls = 0
        self.batch_sizes: list[int] = []

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import torch
        import torch_sim as ts

        self.calls += 1
        self.batch_sizes.append(len(structures))
        state = ts.io.atoms_to_state(structures, device=self.model.device, dtype=self.model.dtype)
        out = self.model(state)
        energy = out["energy"].detach().to(torch.float64).cpu().numpy().reshape(-1)
        forces = out["forces"].detach().to(torch.float64).cpu().numpy()
        stress = out.get("stress")
        stress = _full_to_voigt(stress.detach().to(torch.float64).cpu().numpy()).reshape(len(structures), 6) \
            if stress is not None else None
        return _per_structure(structures, energy, forces, stress)


class SevenNetBackend:
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
        self.calls = 0
        self.batch_sizes: list[int] = []

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import sevenn._keys as KEY
        import torch
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph
        from torch_geometric.loader.dataloader import Collater

        self.calls += 1
        self.batch_sizes.append(len(structures))
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


class CHGNetBackend:
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
        self.calls = 0
        self.batch_sizes: list[int] = []

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

        self.calls += 1
        self.batch_sizes.append(len(structures))
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
    from alloybench.models.adapters import threads

    return max(0, min(16, threads() - 1))


def _usable_cuda_bytes(torch, dev) -> int:
    """Memory this process may still plan for: what the driver reports free (other
    processes sharing the card have taken theirs already) plus PyTorch's own cache."""
    free, _total = torch.cuda.mem_get_info(dev)
    return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))


_POOL_CONVERTER = None


def _chgnet_pool_init(converter) -> None:
    import torch

    torch.set_num_threads(1)
    global _POOL_CONVERTER
    _POOL_CONVERTER = converter


def _chgnet_graph(structure) -> bytes:
    # plain pickle: torch's multiprocessing reducers would pass each tensor as a file descriptor
    return pickle.dumps(_POOL_CONVERTER(structure))


class MatglBackend:
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
        self.calls = 0
        self.batch_sizes: list[int] = []

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        import torch
        from ase.stress import full_3x3_to_voigt_6_stress
        from torch_geometric.data import Batch

        self.calls += 1
        self.batch_sizes.append(len(structures))
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


class DeepMDBackend:
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
        self.calls = 0
        self.batch_sizes: list[int] = []

    def evaluate(self, structures: list[Atoms]) -> list[Evaluation]:
        self.calls += 1
        self.batch_sizes.append(len(structures))
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


def _sevennet_options(model) -> tuple[str, str | None]:
    from alloybench.models import REGISTRY

    weights = model.info.get("weights")
    spec = REGISTRY.get(model.name.lower())
    modal = spec.options.get("modal") if spec is not None else None
    if not weights:
        raise UserError(f"model '{model.name}': no weights path for the batched engine")
    return weights, modal


def _calculator_source(model, calculator: Calculator | None) -> Callable[[], Calculator]:
    """The model's calculator: the one already loaded, else a fresh load."""
    return (lambda: calculator) if calculator is not None else model.make_calculator


def make_backend(model, device: str | None = None, prefer: str = "auto", enable_cueq: bool | None = None,
                 calculator: Calculator | None = None) -> Backend:
    """A batched backend for a resolved :class:`alloybench.models.Model`.

    ``prefer``: "auto" (torch-sim when it and the model's wrapper import, else the
    family's own batching), "torch-sim", "native" or "loop" (CalculatorBackend).
    Raises UserError when the model family has no batched path (use the serial engine).
    ``enable_cueq`` None follows ALLOYBENCH_CUEQ, as the serial calculator does.
    ``calculator``: the model's ASE calculator if already loaded (CHGNet, matgl and DeePMD
    backends reuse it instead of loading the model a second time)."""
    from alloybench.models.adapters import cueq_requested, device as default_device

    if enable_cueq is None:
        enable_cueq = cueq_requested()
    dev = device or default_device()
    loaded = _calculator_source(model, calculator)
    if prefer == "loop":
        return CalculatorBackend(loaded)
    if model.family == "sevennet":
        from alloybench.models.trust import sevenn_weights_only

        sevenn_weights_only()  # checkpoints read with torch.load(weights_only=True)
        weights, modal = _sevennet_options(model)
        why = torch_sim_available()
        if prefer in ("auto", "torch-sim") and why is None:
            from sevenn.torchsim import SevenNetModel

            return TorchSimBackend(SevenNetModel(weights, modal=modal, device=dev, enable_cueq=enable_cueq))
        if prefer == "torch-sim":
            raise MissingExtra(f"batched SevenNet through torch-sim ({why})", "gpu", "torch-sim-atomistic")
        return SevenNetBackend(weights, device=dev, modal=modal, enable_cueq=enable_cueq)
    if model.family == "deepmd" and prefer in ("auto", "native"):
        return DeepMDBackend(loaded())
    if model.family == "matgl" and prefer in ("auto", "native"):
        return MatglBackend(loaded())
    if model.family == "chgnet" and prefer in ("auto", "native"):
        return CHGNetBackend(loaded())
    if model.family == "mace" and prefer in ("auto", "torch-sim"):
        if torch_sim_available() is not None:
            raise MissingExtra("batched MACE", "gpu", "torch-sim-atomistic")
        from torch_sim.models.mace import MaceModel  # type: ignore[import-not-found]

        return TorchSimBackend(MaceModel(model=model.info["weights"], device=dev))
    raise UserError(f"model family '{model.family}' has no batched path; use the serial engine")


# --------------------------------------------------------------------------- broker


class _Cancelled(RuntimeError):
    pass


class _Slot:
    """One worker's mailbox."""

    __slots__ = ("atoms", "result", "error", "ready")

    def __init__(self) -> None:
        self.atoms: Atoms | None = None
        self.result: Evaluation | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()


class _BrokerCalculator(Calculator):
    """Hands the structure to the broker and blocks until the batched call answers."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, broker: "_Broker"):
        super().__init__()
        self._broker = broker
        self._slot = _Slot()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        ev = self._broker.request(self._slot, self.atoms.copy())
        self.results = {"energy": ev.energy, "free_energy": ev.energy, "forces": np.array(ev.forces, dtype=float)}
        if ev.stress is not None:
            self.results["stress"] = np.array(ev.stress, dtype=float)


class _Broker:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.waiting: list[_Slot] = []
        self.running = 0  # workers executing Python (not waiting, not finished)
        self.cancelled = False

    def request(self, slot: _Slot, atoms: Atoms) -> Evaluation:
        slot.atoms, slot.result, slot.error = atoms, None, None
        slot.ready.clear()
        with self.cond:
            if self.cancelled:
                raise _Cancelled("batched engine stopped")
            self.waiting.append(slot)
            self.running -= 1
            self.cond.notify_all()
        slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result


# --------------------------------------------------------------------------- engine


class BatchedEngine:
    """Executes many Jobs together, one batched model call per optimiser step.

    ``backend`` evaluates lists of structures (see module doc); ``fallback``
    makes an ASE calculator for the serial path, used when the backend cannot be
    built.  ``max_atoms`` bounds the atoms in flight (None: calibrated from the
    first batch's memory per atom, on CUDA and on the CPU); ``max_systems`` bounds
    the Jobs in flight."""

    name = "batched"

    def __init__(self, backend: Backend | Callable[[], Backend], fallback: Callable[[], Calculator] | None = None,
                 max_atoms: int | None = None, max_systems: int = 512):
        self._backend_or_factory = backend
        self._backend: Backend | None = None
        self._fallback = fallback
        self._serial: SerialEngine | None = None
        self.max_atoms = max_atoms
        self._fixed = max_atoms is not None  # the caller's bound: never recalibrated
        self._calibrated = max_atoms is not None
        self._cpu_bytes_per_atom = 0.0  # CPU: the most resident memory per atom a call has taken
        self._cpu_measurable: bool | None = None  # CPU: whether /proc gives the figures (Linux)
        self.max_systems = max_systems
        self.probe_atoms = 2048  # CUDA: atoms admitted before memory per atom is known
        self.cpu_probe_atoms = 256  # CPU: the same, smaller, since running out there kills the process
        self.cpu_max_atoms = 4096  # CPU: more atoms per call buy little once the cores are busy
        self.memory_fraction = 0.7  # share of the free memory (card or host) the budget may plan for
        self.stats: dict[str, Any] = {"batched_calls": 0, "structures_evaluated": 0, "oom_splits": 0,
                                      "single_retries": 0, "max_batch_atoms": 0, "fallback_jobs": 0}

    # -- backend / fallback
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            b = self._backend_or_factory
            self._backend = b() if callable(b) and not hasattr(b, "evaluate") else b  # type: ignore[assignment]
        return self._backend  # type: ignore[return-value]

    def _budget(self) -> int:
        if self.max_atoms is None:  # until the first batch has measured bytes per atom
            if self.backend.device.startswith("cuda"):
                return self.probe_atoms
            if self._cpu_measurable is None:  # asked once, not at every step until the first measurement
                self._cpu_measurable = hostmem.rss_bytes() is not None and hostmem.available_bytes() is not None
            if not self._cpu_measurable:
                self.max_atoms = self.cpu_max_atoms  # no way to measure here (not Linux): the plain cap
                return self.max_atoms
            return self.cpu_probe_atoms
        return self.max_atoms

    # -- evaluation with OOM splitting and per-structure isolation
    def _evaluate(self, slots: list[_Slot]) -> None:
        structures = [s.atoms for s in slots]
        failure: str | None = None
        try:
            results = self._call(structures)
        except Exception as exc:
            # leave the except block before retrying: the live traceback would keep
            # the failed call's device tensors allocated and every retry would OOM too
            failure = "oom" if _is_oom(exc) else "error"
            if len(slots) == 1:
                slots[0].error = exc
            del exc
        if failure is not None:
            self._free_device_memory()
            if failure == "oom" and len(slots) > 1:
                self.stats["oom_splits"] += 1
                self.max_atoms = max(1, sum(len(a) for a in structures) // 2)
                self._calibrated = True
                self._fixed = True  # the device said no: measured CPU budgets must not grow past it
                half = len(slots) // 2
                self._evaluate(slots[:half])
                self._evaluate(slots[half:])
            elif len(slots) > 1:  # isolate the structure(s) the model rejects
                for s in slots:
                    self.stats["single_retries"] += 1
                    self._evaluate([s])
            else:
                slots[0].ready.set()
            return
        for s, r in zip(slots, results):
            s.result = r
            s.ready.set()

    def _free_device_memory(self) -> None:
        if self.backend.device.startswith("cuda"):
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def _call(self, structures: list[Atoms]) -> list[Evaluation]:
        n = sum(len(a) for a in structures)
        cuda = self.backend.device.startswith("cuda")
        if cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        # CPU: every call of 64+ atoms is measured (a heap trim and a few /proc reads, ~1 ms with a
        # 1 GB heap): a later
        # call may hold more per atom.  Free heap pages go back first, else the call could reuse
        # them unseen; a refused restart of the peak mark only overestimates, which is safe.
        rss_before = None
        if not cuda and not self._fixed and n >= 64:
            hostmem.release_free_heap()
            rss_before = hostmem.rss_bytes()
            self.stats["peak_mark_restarted"] = hostmem.restart_peak()
        out = self.backend.evaluate(structures)
        self.stats["batched_calls"] += 1
        self.stats["structures_evaluated"] += len(structures)
        self.stats["max_batch_atoms"] = max(self.stats["max_batch_atoms"], n)
        if cuda and not self._calibrated and n >= 64:
            per_atom = max(1.0, (torch.cuda.max_memory_allocated() - base) / n)
            usable = _usable_cuda_bytes(torch, torch.device(self.backend.device))
            self.max_atoms = int(max(256, min(200_000, self.memory_fraction * usable / per_atom)))
            self.stats["bytes_per_atom"] = per_atom
            self._calibrated = True
        if rss_before is not None:
            self._measure_cpu(rss_before, getattr(self.backend, "peak_atoms", None) or n)
        return out

    def _measure_cpu(self, rss_before: int, peak_atoms: int) -> None:
        """Budget from the largest resident memory per atom any call has taken. ``peak_atoms``:
        the atoms of the call's largest single model evaluation (a backend that evaluates a
        batch in parts, as DeePMD's size groups, says so), the part the peak belongs to."""
        peak, now, free = hostmem.peak_bytes(), hostmem.rss_bytes(), hostmem.available_bytes()
        if peak is None or now is None or free is None or peak_atoms < 64:  # small calls: overheads, not atoms
            return
        self._cpu_bytes_per_atom = max(self._cpu_bytes_per_atom, (peak - rss_before) / peak_atoms, 1.0)
        usable = free + max(0, now - rss_before)  # free + what this call left cached in the process
        self.max_atoms = int(max(1, min(self.cpu_max_atoms, self.memory_fraction * usable / self._cpu_bytes_per_atom)))
        self.stats["bytes_per_atom"] = self._cpu_bytes_per_atom

    # -- main loop
    def close(self) -> None:
        """Release what the backend holds besides the model (CHGNet's graph workers)."""
        backend = self._backend
        if backend is not None and hasattr(backend, "close"):
            backend.close()

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        jobs = list(jobs)
        if not jobs:
            return
        try:
            self.backend
        except Exception as exc:
            if self._fallback is None:
                raise
            self.stats["fallback_jobs"] += len(jobs)
            self.stats["fallback_reason"] = f"{type(exc).__name__}: {exc}"[:300]
            if self._serial is None:
                self._serial = SerialEngine(self._fallback)
            yield from self._serial.run(jobs)
            return
        yield from self._run_batched(jobs)

    def _run_batched(self, jobs: list[Job]) -> Iterator[tuple[Job, Result]]:
        broker = _Broker()
        queue = deque(sorted(range(len(jobs)), key=lambda i: -jobs[i].n_atoms))  # big first: better packing
        finished: deque[tuple[Job, Result]] = deque()
        active: dict[int, tuple[threading.Thread, int]] = {}
        atoms_in_flight = 0

        def work(job: Job) -> None:
            calc = _BrokerCalculator(broker)
            try:
                result = run_job(job, calc)
            except BaseException as exc:  # run_job catches model errors; this is the broker stopping
                result = Result.failure("setup", f"{type(exc).__name__}: {exc}"[:500])
            with broker.cond:
                finished.append((job, result))
                broker.running -= 1
                broker.cond.notify_all()

        try:
            while queue or active:
                # admit Jobs while they fit the atom budget (at least one)
                budget = self._budget()
                with broker.cond:
                    while queue and len(active) < self.max_systems:
                        i = queue[0]
                        if active and atoms_in_flight + jobs[i].n_atoms > budget:
                            break
                        queue.popleft()
                        t = threading.Thread(target=work, args=(jobs[i],), daemon=True, name=f"ab-job-{i}")
                        active[i] = (t, jobs[i].n_atoms)
                        atoms_in_flight += jobs[i].n_atoms
                        broker.running += 1
                        t.start()
                    # wait until every live worker is waiting or finished
                    broker.cond.wait_for(lambda: broker.running == 0)
                    batch = list(broker.waiting)
                    broker.waiting.clear()
                    done = list(finished)
                    finished.clear()
                for job, result in done:
                    idx = next(i for i, (t, _) in active.items() if jobs[i] is job)
                    t, n = active.pop(idx)
                    atoms_in_flight -= n
                    t.join()
                    yield job, result
                if batch:
                    with broker.cond:
                        broker.running += len(batch)
                    self._evaluate(batch)
        finally:
            with broker.cond:
                broker.cancelled = True
                pending = list(broker.waiting)
                broker.waiting.clear()
            for s in pending:
                s.error = _Cancelled("batched engine stopped")
                s.ready.set()


def batched_engine_for(model, device: str | None = None, prefer: str = "auto", max_atoms: int | None = None,
                       enable_cueq: bool | None = None, calculator: Calculator | None = None) -> BatchedEngine:
    """The engine ``alloybench run --engine batched`` uses: the model's batched backend,
    falling back to the serial ASE path when the model has none."""
    return BatchedEngine(lambda: make_backend(model, device=device, prefer=prefer, enable_cueq=enable_cueq,
                                              calculator=calculator),
                         fallback=_calculator_source(model, calculator), max_atoms=max_atoms)



__all__ = ["Backend", "BatchedEngine", "CalculatorBackend", "CHGNetBackend", "DeepMDBackend", "Evaluation", "MatglBackend", "SevenNetBackend",
           "TorchSimBackend",
           "batched_engine_for", "make_backend", "torch_sim_available"]
