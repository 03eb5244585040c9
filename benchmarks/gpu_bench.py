"""GPU cost benchmark of SevenNet-0: serial ASE engine vs the batched engine.

Run (on a GPU machine, from the repository root, alloybench importable):

    python benchmarks/gpu_bench.py --out benchmarks/results            # everything (~6 min on an H100)
    python benchmarks/gpu_bench.py --out /tmp/r --sections env,batch    # a part
    python benchmarks/gpu_bench.py --device cpu --quick --out /tmp/r    # smoke test on a CPU

Sections (each writes OUT/gpu_bench_<section>.json as soon as it ends, so a run
cut short keeps what it finished; OUT/gpu_bench.md summarises them):

- env:     card, driver, versions, threads.
- batch:   one batched call (torch-sim backend) of B copies of a 108-atom Al cell:
           time per atom vs B, against one ASE calculator call.
- agree:   correctness on the device: the serial and batched engines on Al, Cu and
           theta' (Al2Cu) relaxations and statics (energy per atom, lattice), and the
           elastic task through alloybench.runner.run_tasks (C_ij); wall time of each.
- solutes: the solute-solute workload: N independent 108-atom Al cells with one or
           two solutes (Cu, Mg, Zn; pairs at 1st..4th neighbour shells) relaxed with
           FIRE at fixed cell (the solutes task's protocol), serial vs batched.
- scaling: time per energy+forces+stress call vs atoms (4 ... largest that fits),
           MD steps/s, memory (alloybench.cost.measure_cost, serial ASE calculator).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SECTIONS = ("env", "batch", "agree", "solutes", "scaling")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save(out: Path, name: str, doc) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"gpu_bench_{name}.json").write_text(json.dumps(doc, indent=1, default=str))


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# ---------------------------------------------------------------- sections


def section_env(args, model) -> dict:
    import torch

    doc = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
           "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": args.device}
    from importlib import metadata

    for p in ("ase", "sevenn", "torch-sim-atomistic", "e3nn", "torch_geometric", "vesin", "vesin-torch", "numpy"):
        try:
            doc[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            doc[p] = None
    if args.device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        doc.update(card=p.name, card_memory_gib=p.total_memory / 2**30, sm_count=p.multi_processor_count)
        try:
            doc["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                                "--format=csv,noheader"], capture_output=True, text=True,
                                               timeout=20).stdout.strip()
        except Exception as exc:  # no nvidia-smi
            doc["nvidia_smi"] = str(exc)
    from alloybench.engine.batched import torch_sim_available

    doc["torch_sim"] = torch_sim_available() or "ok"
    doc["model_id"] = model.id
    return doc


def section_batch(args, model) -> dict:
    from ase.build import bulk
    from ase.calculators.calculator import all_changes

    from alloybench.engine.batched import make_backend

    backend = make_backend(model, device=args.device, prefer=args.backend)
    calc = model.make_calculator()
    cell = bulk("Al", "fcc", a=4.04, cubic=True).repeat((3, 3, 3))
    cell.rattle(0.02, seed=0)
    rows = []
    # the ASE calculator, one structure per call
    for k in range(args.warmup + args.repeats):
        cell.positions[0, 0] += 1e-4
        sync(args.device)
        t0 = time.perf_counter()
        calc.calculate(cell, ["energy", "forces", "stress"], all_changes)
        sync(args.device)
        dt = time.perf_counter() - t0
        if k == args.warmup:
            times = []
        if k >= args.warmup:
            times.append(dt)
    med = float(np.median(times))
    rows.append({"path": "ASE calculator", "structures": 1, "atoms": len(cell), "median_seconds": med,
                 "microseconds_per_atom": med / len(cell) * 1e6})
    for b in args.batch_sizes:
        structures = []
        for i in range(b):
            a = cell.copy()
            a.rattle(0.01, seed=i + 1)
            structures.append(a)
        try:
            times = []
            for k in range(args.warmup + args.repeats):
                sync(args.device)
                t0 = time.perf_counter()
                backend.evaluate(structures)
                sync(args.device)
                if k >= args.warmup:
                    times.append(time.perf_counter() - t0)
        except Exception as exc:
            rows.append({"path": backend.name, "structures": b, "error": f"{type(exc).__name__}: {exc}"[:300]})
            break
        med = float(np.median(times))
        n = b * len(cell)
        rows.append({"path": backend.name, "structures": b, "atoms": n, "median_seconds": med,
                     "microseconds_per_atom": med / n * 1e6})
        log(f"batch {b} x {len(cell)}: {med * 1e3:.1f} ms ({med / n * 1e6:.2f} us/atom)")
    # accuracy of a batched call against the single calls
    ev = backend.evaluate(structures[:4])
    err_e, err_f = [], []
    for a, r in zip(structures[:4], ev):
        calc.calculate(a, ["energy", "forces", "stress"], all_changes)
        err_e.append(abs(r.energy - calc.results["energy"]) / len(a))
        err_f.append(float(np.abs(r.forces - calc.results["forces"]).max()))
    return {"backend": backend.name, "cell_atoms": len(cell), "rows": rows,
            "max_energy_diff_eV_per_atom": max(err_e), "max_force_diff_eV_per_A": max(err_f)}


def _timed_run(engine, jobs, budget_s: float | None = None):
    t0 = time.perf_counter()
    out = {}
    for job, res in engine.run(jobs):
        out[job.name] = res
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            break
    return out, time.perf_counter() - t0


def section_agree(args, model) -> dict:
    from alloybench.engine.batched import BatchedEngine, make_backend
    from alloybench.engine.serial import SerialEngine
    from alloybench.jobs import Job
    from alloybench.reference import load_reference
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from alloybench.tasks.bulk import relax_job
    from alloybench.tasks.elastic import ElasticTask

    ref = load_reference()
    serial = SerialEngine(model.make_calculator)
    batched = BatchedEngine(make_backend(model, device=args.device, prefer=args.backend))
    jobs = []
    for phase in ("Al", "Cu", "theta_prime"):
        r = relax_job(ref, phase)
        jobs += [r, Job("bench", f"static/{phase}", r.structure)]
    rs, ts = _timed_run(serial, jobs)
    rb, tb = _timed_run(batched, jobs)
    rows = []
    for j in jobs:
        a, b = rs[j.name], rb[j.name]
        row = {"job": j.name, "atoms": j.n_atoms, "serial_ok": a.ok, "batched_ok": b.ok,
               "serial_steps": a.steps, "batched_steps": b.steps}
        if a.ok and b.ok:
            row["dE_eV_per_atom"] = abs(a.energy - b.energy) / j.n_atoms
            row["dlattice_A"] = float(np.abs(a.atoms.cell.cellpar()[:3] - b.atoms.cell.cellpar()[:3]).max())
            row["dstress_GPa"] = float(np.abs(np.array(a.stress) - np.array(b.stress)).max() * 160.21766)
        rows.append(row)
    log(f"agree: relax+static serial {ts:.1f} s, batched {tb:.1f} s")
    # elastic task through the runner, Al-Cu phases
    al_cu = replace(model, elements=frozenset({"Al", "Cu"}))
    tmp = Path(args.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    for f in ("el_s.sqlite", "el_b.sqlite"):
        (tmp / f).unlink(missing_ok=True)
    with Store(tmp / "el_s.sqlite") as s1, Store(tmp / "el_b.sqlite") as s2:
        t0 = time.perf_counter()
        ea = run_tasks(al_cu, [ElasticTask()], "quick", ref, s1, SerialEngine(model.make_calculator))
        te_s = time.perf_counter() - t0
        eng = BatchedEngine(make_backend(model, device=args.device, prefer=args.backend))
        t0 = time.perf_counter()
        eb = run_tasks(al_cu, [ElasticTask()], "quick", ref, s2, eng)
        te_b = time.perf_counter() - t0
    ma = {(m.item, m.name): m.value for m in ea.metrics}
    mb = {(m.item, m.name): m.value for m in eb.metrics}
    cij = []
    for k in sorted(ma):
        if k[1].startswith(("C_", "K_", "G_")) and ma[k] is not None and mb.get(k) is not None:
            cij.append({"phase": k[0], "name": k[1], "serial_GPa": ma[k], "batched_GPa": mb[k],
                        "diff_GPa": abs(ma[k] - mb[k])})
    log(f"agree: elastic serial {te_s:.1f} s ({ea.computed} jobs), batched {te_b:.1f} s; "
        f"max dC {max([c['diff_GPa'] for c in cij] or [float('nan')]):.3f} GPa")
    return {"relax_static": rows, "relax_static_seconds": {"serial": ts, "batched": tb},
            "elastic": {"serial_seconds": te_s, "batched_seconds": te_b, "jobs": ea.computed,
                        "failures_serial": ea.failures, "failures_batched": eb.failures,
                        "max_diff_GPa": max([c["diff_GPa"] for c in cij] or [None]), "cij": cij,
                        "batched_stats": eng.stats}}


def solute_jobs(n_jobs: int, repeat: int = 3, seed: int = 0):
    """n_jobs 108-atom (repeat=3) Al cells: single solutes and solute pairs at shells 1-4."""
    from ase.build import bulk

    from alloybench.jobs import Job, Structure
    from alloybench.tasks.solutes import SOLUTE_RELAX

    host = bulk("Al", "fcc", a=4.04, cubic=True).repeat((repeat,) * 3)
    d = host.get_distances(0, range(len(host)), mic=True)
    shells = np.unique(np.round(d[1:], 3))[:4]
    partners = [int(np.flatnonzero(np.isclose(np.round(d, 3), s))[0]) for s in shells]
    rng = np.random.default_rng(seed)
    solutes = ["Cu", "Mg", "Zn"]
    jobs = []
    k = 0
    while len(jobs) < n_jobs:
        atoms = host.copy()
        s1 = solutes[k % 3]
        atoms[0].symbol = s1
        name = f"{s1}"
        if k % 5:  # four in five are pairs
            s2 = solutes[(k // 3) % 3]
            shell = (k // 9) % 4
            atoms[partners[shell]].symbol = s2
            name += f"-{s2}/shell{shell + 1}"
        atoms.rattle(0.005, seed=int(rng.integers(1 << 30)))  # distinct start points: distinct Jobs
        jobs.append(Job("bench", f"{k:03d}/{name}", Structure.from_atoms(atoms), SOLUTE_RELAX))
        k += 1
    return jobs


def section_solutes(args, model) -> dict:
    from alloybench.engine.batched import BatchedEngine, make_backend
    from alloybench.engine.serial import SerialEngine

    jobs = solute_jobs(args.solute_jobs, repeat=args.solute_repeat)
    eng = BatchedEngine(make_backend(model, device=args.device, prefer=args.backend))
    rb, tb = _timed_run(eng, jobs)
    log(f"solutes: batched {len(rb)} jobs in {tb:.1f} s")
    rs, ts = _timed_run(SerialEngine(model.make_calculator), jobs, budget_s=args.serial_budget)
    log(f"solutes: serial {len(rs)} jobs in {ts:.1f} s")
    common = [j for j in jobs if j.name in rs]
    de = [abs(rs[j.name].energy - rb[j.name].energy) for j in common if rs[j.name].ok and rb[j.name].ok]
    steps_s = [rs[j.name].steps for j in common]
    steps_b = [rb[j.name].steps for j in common]
    per_job_s = ts / max(1, len(rs))
    return {"jobs": len(jobs), "atoms_per_job": jobs[0].n_atoms, "relax": "FIRE fmax 2e-3 eV/A, fixed cell",
            "batched_seconds": tb, "batched_jobs": len(rb), "batched_ok": sum(r.ok for r in rb.values()),
            "serial_seconds": ts, "serial_jobs": len(rs), "serial_ok": sum(r.ok for r in rs.values()),
            "serial_seconds_per_job": per_job_s, "batched_seconds_per_job": tb / len(rb),
            "speedup_per_job": per_job_s / (tb / len(rb)),
            "serial_extrapolated_all_jobs_seconds": per_job_s * len(jobs),
            "max_energy_diff_eV": max(de) if de else None, "same_step_counts": steps_s == steps_b,
            "mean_steps": float(np.mean(steps_b)) if steps_b else None, "batched_stats": eng.stats}


def section_scaling(args, model) -> dict:
    from alloybench.cost import measure_cost

    return measure_cost(model, sizes=args.sizes, repeats=args.repeats, warmup=args.warmup, md_steps=args.md_steps,
                        md_atoms=256, device=args.device, max_call_seconds=args.max_call_seconds,
                        progress=lambda m: log(f"scaling: {m}"))


# ---------------------------------------------------------------- report


def markdown(out: Path) -> str:
    def load(name):
        p = out / f"gpu_bench_{name}.json"
        return json.loads(p.read_text()) if p.exists() else None

    lines = ["# SevenNet-0 GPU benchmark", ""]
    env = load("env")
    if env:
        lines += [f"Card: {env.get('card', env['device'])} ({env.get('nvidia_smi', '')}); torch {env['torch']}, "
                  f"sevenn {env['sevenn']}, torch-sim {env['torch-sim-atomistic']}, ase {env['ase']}, "
                  f"Python {env['python']}, {env['cpus']} CPUs.", ""]
    sc = load("scaling")
    if sc:
        lines += ["## Time per energy+forces+stress call (ASE calculator, fcc Al)", "",
                  "| atoms | median s/call | µs/atom | GPU peak MiB |", "|---:|---:|---:|---:|"]
        for r in sc["single_point"]:
            lines.append(f"| {r['n_atoms']} | {r['median_seconds']:.4f} | {r['microseconds_per_atom']:.2f} | "
                         f"{r.get('gpu_peak_mib', float('nan')):.0f} |")
        md = sc.get("md") or {}
        lines += ["", f"Model load {sc['load_seconds']:.2f} s; largest size measured {sc['largest_fitted']} atoms"
                      f"{'; out of memory at ' + str(sc['oom_at']) if sc['oom_at'] else ''}"
                      f"{'; stopped: ' + sc['stopped'] if sc.get('stopped') else ''}."]
        if "steps_per_second" in md:
            lines.append(f"MD (velocity Verlet, {md['n_atoms']} atoms, 2 fs): {md['steps_per_second']:.1f} steps/s "
                         f"({md['ns_per_day']:.2f} ns/day).")
        lines.append("")
    b = load("batch")
    if b:
        lines += [f"## One batched call ({b['backend']}) of B × {b['cell_atoms']}-atom Al cells", "",
                  "| path | B | atoms | median s | µs/atom |", "|---|---:|---:|---:|---:|"]
        for r in b["rows"]:
            if "error" in r:
                lines.append(f"| {r['path']} | {r['structures']} | | {r['error']} | |")
            else:
                lines.append(f"| {r['path']} | {r['structures']} | {r['atoms']} | {r['median_seconds']:.4f} | "
                             f"{r['microseconds_per_atom']:.2f} |")
        lines += ["", f"Batched vs single calls: max |ΔE| {b['max_energy_diff_eV_per_atom']:.2e} eV/atom, "
                      f"max |ΔF| {b['max_force_diff_eV_per_A']:.2e} eV/Å.", ""]
    a = load("agree")
    if a:
        lines += ["## Serial vs batched engine on the device", "",
                  "| job | atoms | steps serial/batched | ΔE eV/atom | Δlattice Å | Δstress GPa |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in a["relax_static"]:
            lines.append(f"| {r['job']} | {r['atoms']} | {r['serial_steps']}/{r['batched_steps']} | "
                         f"{r.get('dE_eV_per_atom', float('nan')):.1e} | {r.get('dlattice_A', float('nan')):.1e} | "
                         f"{r.get('dstress_GPa', float('nan')):.1e} |")
        e = a["elastic"]
        lines += ["", f"Relax+static wall time: serial {a['relax_static_seconds']['serial']:.1f} s, batched "
                      f"{a['relax_static_seconds']['batched']:.1f} s.",
                  f"Elastic task (Al-Cu phases, {e['jobs']} Jobs through run_tasks): serial {e['serial_seconds']:.1f} s, "
                  f"batched {e['batched_seconds']:.1f} s; max |ΔC_ij| {e['max_diff_GPa']} GPa.", ""]
    s = load("solutes")
    if s:
        lines += ["## Solute workload", "",
                  f"{s['jobs']} cells of {s['atoms_per_job']} atoms (Al + 1-2 of Cu/Mg/Zn), {s['relax']}, "
                  f"mean {s['mean_steps']:.0f} FIRE steps.", "",
                  "| engine | jobs run | wall s | s/job |", "|---|---:|---:|---:|",
                  f"| serial ASE | {s['serial_jobs']} | {s['serial_seconds']:.1f} | {s['serial_seconds_per_job']:.3f} |",
                  f"| batched | {s['batched_jobs']} | {s['batched_seconds']:.1f} | {s['batched_seconds_per_job']:.3f} |",
                  "", f"Speed-up per job: {s['speedup_per_job']:.1f}x; max |ΔE| {s['max_energy_diff_eV']} eV; "
                      f"identical step counts: {s['same_step_counts']}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--model", default="sevennet-0")
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument("--backend", default="auto", help="auto | torch-sim | native (batched backend)")
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--md-steps", type=int, default=20)
    p.add_argument("--sizes", default="4,32,108,256,500,864,2048,4000,6912,10976,16384,23328,32000,42592,55296,70304")
    p.add_argument("--max-call-seconds", type=float, default=15.0)
    p.add_argument("--batch-sizes", default="1,4,16,64,128")
    p.add_argument("--solute-jobs", type=int, default=100)
    p.add_argument("--solute-repeat", type=int, default=3, help="cubic cells per edge: 3 -> 108 atoms, 4 -> 256")
    p.add_argument("--serial-budget", type=float, default=150.0, help="seconds for the serial solute run")
    p.add_argument("--tmp", default="/tmp/alloybench-gpu-bench")
    p.add_argument("--cueq", action="store_true", help="cuEquivariance kernels in both engines (ALLOYBENCH_CUEQ=1)")
    args = p.parse_args(argv)
    if args.cueq:
        os.environ["ALLOYBENCH_CUEQ"] = "1"

    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    os.environ["ALLOYBENCH_DEVICE"] = args.device
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    if args.quick:
        args.sizes, args.batch_sizes, args.repeats, args.warmup, args.md_steps = [4, 32], [1, 2], 2, 1, 3
        args.solute_jobs, args.solute_repeat, args.serial_budget = 4, 2, 60.0
    from alloybench.models import resolve

    model = resolve(args.model)
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    status = {}
    for name in wanted:
        fn = globals()[f"section_{name}"]
        log(f"section {name}")
        t0 = time.perf_counter()
        try:
            doc = fn(args, model)
            doc["section_seconds"] = time.perf_counter() - t0
            save(args.out, name, doc)
            status[name] = "ok"
        except Exception as exc:
            traceback.print_exc()
            save(args.out, name + "_error", {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})
            status[name] = f"error: {exc}"
        log(f"section {name}: {status[name]} ({time.perf_counter() - t0:.1f} s)")
        (args.out / "gpu_bench.md").write_text(markdown(args.out))
    return 0 if all(v == "ok" for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
