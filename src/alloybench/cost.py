"""Compute cost of a potential: load time, time per atom per call, MD steps/s, memory.

``measure_cost(model)`` times energy+forces+stress calls on fcc Al supercells of
growing size (medians over repeats, warm-up calls excluded), steady-state
velocity-Verlet MD steps per second on a few-hundred-atom cell, peak memory
(process RSS; GPU memory when on CUDA), and records the device and thread
count so that numbers from different machines are never compared blindly.
On CUDA, sizes grow to the largest that fits: an out-of-memory error ends the
scan and is recorded (``largest_fitted``, ``oom_at``).

``alloybench cost --model NAME`` is :func:`cost_command`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import all_changes

AL_A = 4.04  # Å, near the PBE/experimental lattice constant of fcc Al
CPU_SIZES = (32, 108, 256, 500)
GPU_SIZES = (32, 108, 256, 500, 864, 2048, 4000, 6912, 10976, 16384, 23328, 32000, 42592, 55296, 70304)
QUICK_SIZES = (32, 108)
MAX_CALL_SECONDS = 60.0  # stop growing once one call takes longer than this
PROPERTIES = ["energy", "forces", "stress"]


def al_supercell(n_atoms: int, a: float = AL_A, rattle: float = 0.02, seed: int = 0) -> Atoms:
    """fcc Al: the cubic 4-atom cell repeated n x n x n (n_atoms must be 4 n^3), slightly rattled."""
    n = round((n_atoms / 4) ** (1 / 3))
    if 4 * n**3 != n_atoms:
        raise ValueError(f"{n_atoms} is not 4 n^3 (32, 108, 256, 500, 864, ...)")
    atoms = bulk("Al", "fcc", a=a, cubic=True).repeat((n, n, n))
    atoms.rattle(rattle, seed=seed)
    return atoms


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


def _cuda(device: str) -> bool:
    return device.startswith("cuda")


def _sync(device: str) -> None:
    torch = _torch()
    if torch is not None and _cuda(device):
        torch.cuda.synchronize()


def rss_peak_mib() -> float:
    """Peak resident set size of this process, including what came before the batched
    engine restarted the kernel's peak mark (alloybench.hostmem)."""
    from alloybench import hostmem

    return hostmem.lifetime_peak_bytes() / 2**20


def rss_now_mib() -> float | None:
    from alloybench import hostmem

    rss = hostmem.rss_bytes()  # /proc on Linux; psutil elsewhere, where installed
    if rss is None:
        try:
            import psutil

            rss = psutil.Process().memory_info().rss
        except ImportError:
            return None
    return rss / 2**20


def _resolved_device(model, device: str | None) -> str:
    from alloybench.models.families import device_for

    return device_for(model.family, device)  # a CPU-only family's codes compute on the CPU


def _cpu_memory_stop(rows: list[dict[str, Any]], n: int, margin: float = 0.8) -> str | None:
    """Why the scan must not try ``n`` atoms on the CPU, or None.  There running out of memory
    is no exception but the kernel killing the process (DPA3 held 22 GiB at 256-500 atoms on a
    24 GiB host), so the next size's need is extrapolated from the last one's growth per atom
    (call memory grows about linearly with atoms) and compared with what the host can give."""
    from alloybench import hostmem

    last = rows[-1] if rows else None
    avail = hostmem.available_bytes()
    if last is None or avail is None or last.get("rss_growth_mib") is None:
        return None
    need = last["rss_growth_mib"] * 2**20 / last["n_atoms"] * n
    if need <= margin * avail:
        return None
    return (f"{n} atoms would need about {need / 2**30:.1f} GiB (from {last['rss_growth_mib']:.0f} MiB at "
            f"{last['n_atoms']} atoms), {avail / 2**30:.1f} GiB available")


def time_calls(calc, atoms: Atoms, repeats: int, warmup: int, device: str = "cpu") -> list[float]:
    """Wall seconds of ``repeats`` energy+forces+stress calls after ``warmup`` untimed ones.
    Positions move by 1e-4 Å between calls so that no calculator can answer from a cache."""
    atoms = atoms.copy()
    times = []
    for k in range(warmup + repeats):
        atoms.positions[0, 0] += 1e-4 * (-1) ** k
        _sync(device)
        t0 = time.perf_counter()
        calc.calculate(atoms, PROPERTIES, all_changes)
        _sync(device)
        dt = time.perf_counter() - t0
        if k >= warmup:
            times.append(dt)
    return times


def md_rate(calc, atoms: Atoms, steps: int, warmup: int = 5, temperature_k: float = 300.0,
            timestep_fs: float = 2.0) -> dict[str, float]:
    """Steady-state NVE velocity-Verlet steps per second (warm-up steps not timed)."""
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_k, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs, logfile=None)
    dyn.run(warmup)
    t0 = time.perf_counter()
    dyn.run(steps)
    dt = time.perf_counter() - t0
    return {"n_atoms": len(atoms), "steps": steps, "warmup_steps": warmup, "timestep_fs": timestep_fs,
            "seconds": dt, "steps_per_second": steps / dt, "atom_steps_per_second": steps * len(atoms) / dt,
            "ns_per_day": steps * timestep_fs * 1e-6 / dt * 86400}


def _threads() -> int:
    torch = _torch()
    if torch is not None:
        return int(torch.get_num_threads())
    return os.cpu_count() or 1


def _versions() -> dict[str, str]:
    found = {}
    for p in ("alloybench", "ase", "numpy", "torch", "sevenn", "chgnet", "matgl", "torch-sim-atomistic"):
        try:
            found[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return found


def _device_name(device: str) -> str:
    torch = _torch()
    if torch is not None and _cuda(device):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def measure_cost(model, sizes: list[int] | tuple[int, ...] | None = None, repeats: int = 5, warmup: int = 2,
                 md_steps: int = 20, md_atoms: int = 256, device: str | None = None,
                 max_call_seconds: float = MAX_CALL_SECONDS, progress=None) -> dict[str, Any]:
    """Cost figures of a resolved :class:`alloybench.models.Model` (JSON-able dict).

    ``sizes``: atom counts of fcc Al supercells (4 n^3); default 32..500 on CPU and
    32..70k on CUDA (stopping at the first out-of-memory).  ``md_steps`` 0 skips MD.
    ``progress(message)`` is called before each measurement when given."""
    from alloybench import hostmem

    if repeats < 1 or warmup < 0:
        raise ValueError("repeats >= 1 and warmup >= 0")
    dev = _resolved_device(model, device)
    cuda = _cuda(dev)
    torch = _torch()
    if cuda and torch is not None:
        torch.cuda.reset_peak_memory_stats()
    sizes = sorted(set(sizes or (GPU_SIZES if cuda else CPU_SIZES)))
    say = progress or (lambda msg: None)

    say("loading model")
    t0 = time.perf_counter()
    calc = model.calculator(device)
    load_seconds = time.perf_counter() - t0

    rows: list[dict[str, Any]] = []
    largest, oom_at, stopped = None, None, None
    for n in sizes:
        say(f"{n} atoms")
        atoms = al_supercell(n)
        if cuda and torch is not None:
            torch.cuda.reset_peak_memory_stats()
        rss_before = None
        if not cuda:  # the host's memory bounds a CPU scan (on CUDA: the out-of-memory exception below)
            if why := _cpu_memory_stop(rows, n):
                stopped = why
                break
            # hand freed heap back first: else this size's arrays reuse memory already resident and
            # the growth (what the next size is extrapolated from) reads near zero
            hostmem.release_free_heap()
            rss_before = hostmem.rss_bytes()
            hostmem.restart_peak()
        try:
            times = time_calls(calc, atoms, repeats, warmup, dev)
        except Exception as exc:
            if _is_oom(exc):
                oom_at = n
                stopped = f"out of memory at {n} atoms"
                if torch is not None and cuda:
                    torch.cuda.empty_cache()
                break
            raise
        med = statistics.median(times)
        row = {"n_atoms": n, "median_seconds": med, "seconds_per_atom": med / n,
               "microseconds_per_atom": med / n * 1e6, "min_seconds": min(times), "max_seconds": max(times),
               "repeats": repeats, "warmup": warmup}
        if cuda and torch is not None:
            row["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        elif rss_before is not None and (peak := hostmem.peak_bytes()) is not None:
            row["rss_growth_mib"] = max(0, peak - rss_before) / 2**20  # what one call at this size needs
        rows.append(row)
        largest = n
        if med > max_call_seconds:
            stopped = f"one call took {med:.1f} s > {max_call_seconds:.0f} s at {n} atoms"
            break

    md = None
    if md_steps > 0:
        n_md = min([s for s in (32, 108, 256, 500, 864, 2048) if s >= md_atoms] or [md_atoms])
        if stopped and largest is not None and n_md > largest:  # the scan stopped below it (memory, time)
            n_md = largest
        say(f"MD on {n_md} atoms")
        try:
            md = md_rate(calc, al_supercell(n_md, rattle=0.0), md_steps)
        except Exception as exc:  # a model without MD support (rare) keeps the rest
            md = {"error": f"{type(exc).__name__}: {exc}"[:300]}

    memory: dict[str, Any] = {"rss_peak_mib": rss_peak_mib(), "rss_now_mib": rss_now_mib()}
    if cuda and torch is not None:
        memory["gpu_max_allocated_mib"] = max([r.get("gpu_peak_mib", 0.0) for r in rows] or [0.0])
        memory["gpu_total_mib"] = torch.cuda.get_device_properties(torch.device(dev)).total_memory / 2**20

    scaling = None
    if len(rows) >= 2:  # time ~ n^p on the two largest sizes measured
        a, b = rows[-2], rows[-1]
        scaling = float(np.log(b["median_seconds"] / a["median_seconds"]) / np.log(b["n_atoms"] / a["n_atoms"]))

    return {
        "model": {"name": model.name, "id": model.id, "family": model.family},
        "device": dev,
        "device_name": _device_name(dev),
        "threads": _threads(),
        "host": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": _versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "structure": f"fcc Al supercells (a = {AL_A} Å, rattled 0.02 Å), energy+forces+stress per call",
        "load_seconds": load_seconds,
        "single_point": rows,
        "largest_fitted": largest,
        "oom_at": oom_at,
        "stopped": stopped,
        "scaling_exponent": scaling,
        "md": md,
        "memory": memory,
        "settings": {"sizes": list(sizes), "repeats": repeats, "warmup": warmup, "md_steps": md_steps,
                     "max_call_seconds": max_call_seconds},
    }


def cost_table(doc: dict[str, Any]):
    """A rich Table of measure_cost's result."""
    from rich.table import Table

    t = Table(title=f"{doc['model']['name']} on {doc['device']} ({doc['device_name']}, {doc['threads']} threads); "
                    f"load {doc['load_seconds']:.2f} s")
    for col in ("atoms", "median s/call", "µs/atom", "min s", "max s"):
        t.add_column(col, justify="right")
    for r in doc["single_point"]:
        t.add_row(str(r["n_atoms"]), f"{r['median_seconds']:.4g}", f"{r['microseconds_per_atom']:.1f}",
                  f"{r['min_seconds']:.4g}", f"{r['max_seconds']:.4g}")
    return t


def cost_command(model_spec: str, out: Path | None = None, quick: bool = False, device: str | None = None,
                 console=None) -> dict[str, Any]:
    """``alloybench cost --model NAME [--out DIR] [--quick]``: measure, print a table, write OUT/cost.json.

    Raises UserError for an unknown model or missing package (the CLI prints it and exits 2)."""
    from rich.console import Console

    from alloybench.models import resolve
    from alloybench.report import write_atomic

    model = resolve(model_spec)  # UserError: unknown model / missing extra
    console = console or Console()
    kwargs = _quick_kwargs(quick)
    with console.status("measuring cost") as status:
        if model.env:  # its calculator only loads in the family's own environment: measure there
            status.update(f"measuring cost in {model.env}")
            doc = measure_cost_in_env(model, device, quick)
        else:
            doc = measure_cost(model, device=device, progress=lambda m: status.update(f"measuring cost: {m}"),
                               **kwargs)
    directory = out or Path("alloybench-results") / model.name.replace("/", "_")
    path = directory / "cost.json"
    write_atomic(path, json.dumps(doc, indent=1))
    from alloybench.store import Store

    with Store(directory / "results.sqlite") as store:  # kept with the model's results for 'report'
        store.put_cost(model.id, doc)
    console.print(cost_table(doc))
    md = doc.get("md") or {}
    if "steps_per_second" in md:
        console.print(f"MD ({md['n_atoms']} atoms, velocity Verlet): {md['steps_per_second']:.2f} steps/s, "
                      f"{md['ns_per_day']:.3f} ns/day")
    mem = doc["memory"]
    line = f"peak RSS {mem['rss_peak_mib']:.0f} MiB"
    if "gpu_max_allocated_mib" in mem:
        line += f", GPU peak {mem['gpu_max_allocated_mib']:.0f} MiB"
    if doc["stopped"]:
        line += f"; scan stopped: {doc['stopped']}"
    console.print(line)
    console.print(f"written: {path}")
    return doc


def _quick_kwargs(quick: bool) -> dict[str, Any]:
    return {"sizes": QUICK_SIZES, "repeats": 3, "warmup": 1, "md_steps": 10, "md_atoms": 108} if quick else {}


def measure_cost_in_env(model, device: str | None, quick: bool, timeout: float = 3600.0) -> dict[str, Any]:
    """:func:`measure_cost` of a model that lives in its family's environment, run by that
    environment's Python (``python -m alloybench.cost``); the cost document comes back as JSON."""
    from alloybench.errors import UserError
    from alloybench.models.remote import run_json_in_env

    cmd = [str(Path(model.env) / "bin" / "python"), "-m", "alloybench.cost", model.source or model.name]
    if model.weights:
        cmd += ["--weights", str(model.weights)]
    if device:
        cmd += ["--device", device]
    if quick:
        cmd.append("--quick")
    what = f"model '{model.name}': cost measurement in {model.env} failed"
    doc = run_json_in_env(cmd, what, timeout)
    if doc.get("type") == "error":
        raise UserError(f"{what}: {doc['message']}")
    return doc


def _main(argv: list[str] | None = None) -> int:
    """In a family environment: measure one model, print the cost document as one JSON line."""
    import argparse

    from alloybench.errors import UserError
    from alloybench.models import resolve

    ap = argparse.ArgumentParser(prog="python -m alloybench.cost")
    ap.add_argument("source")
    ap.add_argument("--weights")
    ap.add_argument("--device")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    try:
        doc = measure_cost(resolve(a.source, a.weights), device=a.device, **_quick_kwargs(a.quick))
    except UserError as exc:
        print(json.dumps({"type": "error", "message": str(exc)}))
        return 2
    print(json.dumps(doc))
    return 0


__all__ = ["al_supercell", "cost_command", "measure_cost", "measure_cost_in_env", "md_rate", "time_calls"]


if __name__ == "__main__":
    raise SystemExit(_main())
