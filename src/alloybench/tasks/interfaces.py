"""Precipitate/matrix interface energies (theta-prime, theta-double-prime, S phase).

Reference definition (values in DFT.json; docs/protocols.md section 11; the ml-peg port
``ml_peg/calcs/alloy_metallurgy/alzncumg_regression/`` does not include this family):
for a series of periodic precipitate/matrix cells of N atoms with two interfaces each,
``Eforms`` (an energy per atom up to a constant) is fitted linearly against
``invNs`` = 1/N, and  gamma = slope * 16021.766 / (2 A)  mJ/m^2, A the interface area
of the cell, since E/N = e_inf + 2 gamma A / N when the bulk part per atom is fixed.
Reference: theta-prime coherent 210.2, semi-coherent 592.3, theta-double-prime
coherent 30.3, semi-coherent 54.5, S 143.0 mJ/m^2.

Not covered: the interface cells (their orientation relationships, precipitate and
matrix thicknesses, misfit accommodation of the semi-coherent cells, N per cell) were
built outside the reference's public generator scripts (daniel-sintef/aiida-alloy has
only the launchers ``launch_interfaces_relax.sh`` / ``launch_Sphase-interface.sh``,
which read an AiiDA group), and the legacy evalpot interface path is flagged buggy in
the port's plan.  Approximating the cells would compare a different quantity with
the same label, so every item is reported not_applicable with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alloybench.jobs import Job, Result
from alloybench.tasks.base import Context, Metric, Task

INTERFACE_PROTOCOL = "interfaces-1"
GROUP = "interface_energy"
EV_PER_A2_TO_MJ_PER_M2 = 16021.766208
INTERFACES: dict[str, str] = {  # reference prefix -> item
    "ThetaP_Coherent": "theta_prime_coherent",
    "ThetaP_SemiCoherent": "theta_prime_semicoherent",
    "ThetaDP_Coherent": "theta_dprime_coherent",
    "ThetaDP_SemiCoherent": "theta_dprime_semicoherent",
    "Sphase_Interface": "S_interface",
}
REASON = ("structure not available: the reference's precipitate/matrix interface cells are not "
          "published (only their energies), so they cannot be rebuilt faithfully")


def interface_energy(inv_n: list[float], eforms: list[float], area: float) -> float:
    """gamma (mJ/m^2) from a linear fit of E/N (eV/atom) against 1/N, two interfaces per cell of area A (Å^2)."""
    slope = np.polyfit(np.asarray(inv_n, dtype=float), np.asarray(eforms, dtype=float), 1)[0]
    return float(slope * EV_PER_A2_TO_MJ_PER_M2 / (2.0 * area))


class InterfaceTask(Task):
    name = "interfaces"
    title = "Precipitate/matrix interface energies"
    computes = "coherent and semi-coherent theta-prime, theta-double-prime and S-phase interface energies (mJ/m^2)"
    reference_source = "alcumgzn_pbe: {ThetaP,ThetaDP}_{Coherent,SemiCoherent}_*, Sphase_Interface_*"
    tier = "standard"
    protocol = INTERFACE_PROTOCOL

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        return []  # no faithful cells: nothing to compute

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for prefix, item in INTERFACES.items():
            gamma = ref.value(f"{prefix}_Einterface")
            if gamma is None:
                continue
            companions = [ref.value(f"{prefix}_{suffix}") for suffix in ("Eforms", "invNs")]
            source = "; ".join([gamma.source] + [rv.source for rv in companions if rv is not None])
            metrics.append(Metric(self.name, item, "interface_energy", GROUP, "mJ/m^2", None, float(gamma.value),
                                  source, "not_applicable", REASON))
        return metrics
