"""Per-Job overhead of running a model in a worker process (SubprocessEngine) vs in-process.

    python benchmarks/worker_overhead.py
"""

import time
from ase.build import bulk
from alloybench.engine.serial import SerialEngine
from alloybench.engine.subprocess import SubprocessEngine
from alloybench.jobs import Job, Structure
from alloybench.models import resolve

def jobs(n, reps):
    out = []
    for i in range(n):
        a = bulk("Al", "fcc", a=4.04, cubic=True).repeat(reps); a.rattle(0.01, seed=i)
        out.append(Job("t", f"j{i}", Structure.from_atoms(a)))
    return out

res = {}
for name, n, reps in [("emt", 200, 1), ("emt", 50, 3), ("sevennet-0", 30, 1)]:
    js = jobs(n, reps)
    t = time.perf_counter(); m = resolve(name); calc = m.make_calculator(); t_load_in = time.perf_counter() - t
    s = SerialEngine(lambda: calc)
    list(s.run(js[:3]))  # warm
    t = time.perf_counter(); list(s.run(js)); t_in = (time.perf_counter() - t) / n
    t = time.perf_counter(); e = SubprocessEngine(name); e.start(); t_start = time.perf_counter() - t
    list(e.run(js[:3]))
    t = time.perf_counter(); list(e.run(js)); t_sub = (time.perf_counter() - t) / n
    e.close()
    key = f"{name} {len(js[0].structure)} atoms"
    res[key] = {"in_process_load_s": round(t_load_in, 2), "worker_start_s": round(t_start, 2),
                "worker_load_s": round(e.load_seconds, 2), "per_job_in_process_ms": round(t_in * 1e3, 2),
                "per_job_subprocess_ms": round(t_sub * 1e3, 2), "overhead_ms": round((t_sub - t_in) * 1e3, 2)}
    print(key, res[key], flush=True)
