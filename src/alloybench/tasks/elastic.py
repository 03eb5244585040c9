"""Elastic tensor by finite strain: +-0.5 % on each of the six Voigt strains of
the relaxed cell, ions relaxed at fixed cell, C_ij = d sigma_i / d eps_j by
central difference, symmetrised.  Bulk and shear moduli in the Voigt, Reuss
and Hill bounds.

Ion relaxation (ION_RELAX): BFGS to 1e-5 eV/Å.  A +-0.5 % shear induces forces
of order 1e-3 eV/Å on soft internal modes, so the former FIRE to 1e-3 eV/Å
stopped after a few steps, far from the relaxed positions, and the + and -
strains erred the same way (EMT theta C44 +6 %, docs/protocols.md).  BFGS to
1e-5 eV/Å is within 0.35 % of the harmonic relaxed-ion tensor
(alloybench.harmonic) in fewer steps than FIRE needed to 1e-3.

Strain size: C_ij are also computed at +-0.1 % (SMALL_STRAIN; reported, not
scored).  Where the two differ by more than max(STRAIN_FLAG_GPA, STRAIN_FLAG_REL
* |C|) the +-0.5 % value (scored, the reference's protocol) carries a flag: the
model's energy surface is rough or kinked on the scale of the strain, a finding
in itself.

Frame: the reference tensors are in the Cartesian frame of the standard
conventional cell.  That is the input cell's frame for every phase but
theta-double-prime, whose 8-atom input cell is rotated 45 deg about c from the
4-atom P4/mmm cell the reference used; its tensor is rotated into that frame
(REFERENCE_FRAMES) before comparison.

The moduli and the rotation are written out here, not taken from pymatgen (docs/developing.md says
why); tests/test_elastic_pymatgen.py checks them against pymatgen's ElasticTensor.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase import Atoms, units

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.tasks.base import Context, Metric, Task, failed_reason, outcome_metric
from alloybench.tasks.bulk import relax_job

ELASTIC_PROTOCOL = "elastic-2"
STRAIN = 0.005  # the reference's protocol: scored
SMALL_STRAIN = 0.001  # reported, not scored; the strain-dependence check
ION_RELAX = Relax(fmax=1e-5, max_steps=1000, cell_mask=None, optimizer="BFGS")
# A stopped ion relaxation of a scored (+-0.5 %) strain cell is accepted up to this residual force
# (eV/Å, 10 x fmax): float32 models cannot reach 1e-5 on some precipitates, and stopping at 1e-4
# moves EMT theta C44 by 0.11 % (BFGS) / 0.32 % (FIRE), inside the 0.5 % criterion (protocols 14.1).
# The +-0.1 % cells keep the general 5 x fmax: at 1e-4 their theta C44 moves 0.76 % / 2.5 %.
SCORED_STRAIN_BOUND = 1e-4
STRAIN_FLAG_GPA = 1.0  # |C(0.5 %) - C(0.1 %)| above max(this, STRAIN_FLAG_REL |C|) flags the value
STRAIN_FLAG_REL = 0.03
EV_A3_TO_GPA = 1.0 / units.GPa
SYMMETRY_ZERO_GPA = 0.5  # reference entries below this are zero by symmetry: reported, not scored


def voigt_strain_matrix(component: int, delta: float) -> np.ndarray:
    """Strain tensor for Voigt component 0..5 (xx yy zz yz xz xy); shears are engineering strains."""
    eps = np.zeros((3, 3))
    if component < 3:
        eps[component, component] = delta
    else:
        i, j = {3: (1, 2), 4: (0, 2), 5: (0, 1)}[component]
        eps[i, j] = eps[j, i] = delta / 2.0
    return eps


def strained(atoms: Atoms, component: int, delta: float) -> Atoms:
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ (np.eye(3) + voigt_strain_matrix(component, delta)), scale_atoms=True)
    return out


def stiffness_from_stresses(plus: np.ndarray, minus: np.ndarray, delta: float = STRAIN) -> np.ndarray:
    """plus/minus: (6, 6) Voigt stresses in eV/Å^3, row j = strain component j. Returns C in GPa."""
    c = (plus - minus).T / (2.0 * delta) * EV_A3_TO_GPA  # C[i, j] = d sigma_i / d eps_j
    return 0.5 * (c + c.T)


def moduli(c: np.ndarray) -> dict[str, float]:
    kv = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9.0
    gv = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[0, 2] + c[1, 2]) + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15.0
    out = {"K_V": kv, "G_V": gv}
    try:
        s = np.linalg.inv(c)
        kr = 1.0 / (s[0, 0] + s[1, 1] + s[2, 2] + 2 * (s[0, 1] + s[0, 2] + s[1, 2]))
        gr = 15.0 / (4 * (s[0, 0] + s[1, 1] + s[2, 2]) - 4 * (s[0, 1] + s[0, 2] + s[1, 2]) + 3 * (s[3, 3] + s[4, 4] + s[5, 5]))
        out.update(K_R=kr, G_R=gr, K_H=(kv + kr) / 2, G_H=(gv + gr) / 2)
    except np.linalg.LinAlgError:
        pass
    return {k: float(v) for k, v in out.items()}


_R45 = np.array([[np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0], [-np.sin(np.pi / 4), np.cos(np.pi / 4), 0.0], [0.0, 0.0, 1.0]])
REFERENCE_FRAMES = {"theta_dprime": _R45}  # rows: reference axes in the input cell's Cartesian frame
_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def rotate_stiffness(c: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """C' = R R R R C for a 6x6 Voigt stiffness (no factors: stiffness, not compliance)."""
    full = np.zeros((3, 3, 3, 3))
    for a, (i, j) in enumerate(_VOIGT):
        for b, (k, l) in enumerate(_VOIGT):
            for p, q in {(i, j), (j, i)}:
                for r, s in {(k, l), (l, k)}:
                    full[p, q, r, s] = c[a, b]
    rot = np.einsum("ia,jb,kc,ld,abcd->ijkl", rotation, rotation, rotation, rotation, full)
    return np.array([[rot[i, j, k, l] for (k, l) in _VOIGT] for (i, j) in _VOIGT])


def strain_job_name(phase: str, component: int, sign: int, delta: float | None = None) -> str:
    delta = STRAIN if delta is None else delta  # read when called: the convergence study changes STRAIN
    prefix = "strain" if delta == STRAIN else f"strain{100 * delta:g}%"
    return f"{prefix}/{phase}/{component}{'+' if sign > 0 else '-'}"


def strain_flag(c_ref_strain: float, c_small: float) -> str:
    """The flag text when the +-0.5 % and +-0.1 % values differ by more than the stated amount."""
    diff = c_ref_strain - c_small
    if abs(diff) > max(STRAIN_FLAG_GPA, STRAIN_FLAG_REL * abs(c_small)):
        return (f"strain-dependent: {c_small:.2f} GPa at +-{100 * SMALL_STRAIN:g} % "
                f"({diff:+.2f} GPa from +-{100 * STRAIN:g} %)")
    return ""


class ElasticTask(Task):
    name = "elastic"
    title = "Elastic tensor"
    computes = ("21 C_ij (GPa) by +-0.5 % finite strain with relaxed ions (BFGS to 1e-5 eV/Å); K and G "
                "(Voigt, Reuss, Hill); C_ij at +-0.1 % reported, with a flag where the strain changes them")
    reference_source = "alcumgzn_pbe: <id>-C_ij, k_voigt, g_voigt"
    tier = "quick"
    protocol = ELASTIC_PROTOCOL

    def acceptance_bound(self, job: Job) -> float | None:
        return SCORED_STRAIN_BOUND if job.name.startswith("strain/") else None  # strain_job_name at STRAIN

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        jobs: list[Job] = []
        for phase, pdata in ctx.reference.phases.items():
            if not ctx.covers(pdata.elements):
                continue
            relax = relax_job(ctx.reference, phase)
            jobs.append(relax)
            r = results.get(relax.name)
            if r is None or not r.ok:
                continue
            base = r.atoms
            for delta in (STRAIN, SMALL_STRAIN):
                for comp in range(6):
                    for sign in (1, -1):
                        jobs.append(Job(
                            task=self.name,
                            name=strain_job_name(phase, comp, sign, delta),
                            structure=Structure.from_atoms(strained(base, comp, sign * delta)),
                            relax=ION_RELAX,
                            protocol=self.protocol,
                        ))
        return jobs

    @staticmethod
    def tensor(phase: str, results: Mapping[str, Result], delta: float) -> np.ndarray:
        """C (GPa) in the reference's frame from the strain Jobs at +-delta (all present and ok)."""
        plus = np.array([results[strain_job_name(phase, c, 1, delta)].stress for c in range(6)])
        minus = np.array([results[strain_job_name(phase, c, -1, delta)].stress for c in range(6)])
        c = stiffness_from_stresses(plus, minus, delta)
        if phase in REFERENCE_FRAMES:
            c = rotate_stiffness(c, REFERENCE_FRAMES[phase])
        return c

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for phase, pdata in ref.phases.items():
            names = [f"relax/{phase}"] + [strain_job_name(phase, c, s) for c in range(6) for s in (1, -1)]
            small_names = [strain_job_name(phase, c, s, SMALL_STRAIN) for c in range(6) for s in (1, -1)]
            missing = ctx.missing(pdata.elements)
            fail = None if missing else failed_reason(results, names)
            small_fail = None if missing or fail else failed_reason(results, small_names)
            values: dict[str, float] = {}
            small: dict[str, float] = {}
            if not missing and fail is None:
                c = self.tensor(phase, results, STRAIN)
                for i in range(6):
                    for j in range(i + 1):
                        values[f"C_{i + 1}{j + 1}"] = float(c[i, j])
                values.update(moduli(c))
                if small_fail is None:
                    cs = self.tensor(phase, results, SMALL_STRAIN)
                    small = {f"C_{i + 1}{j + 1}": float(cs[i, j]) for i in range(6) for j in range(i + 1)}
            entries = [(f"C_{i + 1}{j + 1}", f"C_{i + 1}{j + 1}") for i in range(6) for j in range(i + 1)]
            entries += [("K_V", "k_voigt"), ("G_V", "g_voigt"), ("K_R", None), ("G_R", None), ("K_H", None), ("G_H", None)]
            for name, key in entries:
                rv = ref.phase_value(phase, key) if key else None
                refval = float(rv.value) if rv else None
                if name.startswith("C_"):
                    group = "elastic_constant" if refval is None or abs(refval) >= SYMMETRY_ZERO_GPA else "elastic_zero"
                else:
                    group = "elastic_modulus"
                source = rv.source if rv else ""
                flag = strain_flag(values[name], small[name]) if name in values and name in small else ""
                metrics.append(outcome_metric(self.name, phase, name, group, "GPa", values.get(name), refval, source,
                                              missing, fail or "elastic tensor is singular", flag))
                if not name.startswith("C_"):
                    continue
                refval = refval if group == "elastic_constant" else None  # zero entries: no error to show
                metrics.append(outcome_metric(self.name, phase, f"{name}@{100 * SMALL_STRAIN:g}%",
                                              "elastic_small_strain", "GPa", small.get(name), refval, source, missing,
                                              small_fail or fail or "elastic tensor is singular"))
        return metrics
