"""Where the Dask workers come from: a LocalCluster, a running scheduler, or SLURM.

:class:`SchedulerOptions` is what ``alloybench run --workers N | --scheduler ADDRESS |
--cluster slurm --cluster-config FILE`` parses into, and what any other sweep
(``alloybench dft label``, ``alloybench finetune``) hands :func:`open_session`.

Workers advertise what they can run through Dask *resources*:

- ``env-FAMILY=1``: started from the family's own environment (``alloybench env
  create FAMILY``; on SLURM the ``families:`` section of the config), so the
  family's package imports there.  A worker without an ``env-*`` resource is a
  main-environment worker.
- ``GPU=1``: one worker per GPU, pinned to it (``CUDA_VISIBLE_DEVICES``); such a
  worker runs the batched engine.

Locally, ``--workers N`` starts N single-threaded worker processes *for each
environment the models need* (the main one and each family environment); a
killed worker is restarted by its nanny.  The scheduler of a LocalCluster or a
SLURMCluster runs in this process with ``allowed-failures`` 0, so every worker
death reaches the client, which retries the Jobs up to ``retries`` times itself
(``alloybench.engine.dask``).  A remote scheduler keeps its own setting: the
client's limit then counts the deaths its scheduler reports after its own retries.
"""

from __future__ import annotations

import functools

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alloybench.errors import MissingExtra, UserError

ENV_RESOURCE = "env-"  # resource prefix: env-FAMILY
GPU_RESOURCE = "GPU"
PRELOAD = "alloybench.engine.dask_worker"
START_TIMEOUT_S = float(os.environ.get("ALLOYBENCH_DASK_START_TIMEOUT", "300"))


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise MissingExtra("running on Dask workers", "dask", "distributed") from None


@dataclass(frozen=True)
class SchedulerOptions:
    """How to reach Dask workers; exactly one of ``workers``, ``scheduler``, ``cluster``.

    ``workers``: start a LocalCluster of this many single-threaded processes per
    environment; ``gpus``: instead one worker per local GPU (0..gpus-1), pinned;
    ``scheduler``: the address of a running scheduler (``tcp://host:8786``) whose
    workers were started by the user (``dask worker ADDRESS`` or ``dask cuda worker``,
    family ones with ``--resources env-FAMILY=1``); ``cluster`` "slurm" with
    ``cluster_config``: a dask-jobqueue SLURMCluster from that YAML file.
    ``retries``: how many times Jobs whose worker died are computed again elsewhere
    before they are stored as failed with the reason."""

    workers: int | None = None
    scheduler: str | None = None
    cluster: Literal["slurm"] | None = None
    cluster_config: Path | None = None
    gpus: int = 0
    retries: int = 2
    threads_per_worker: int = 1
    dashboard_address: str = ":8787"
    start_timeout_s: float = START_TIMEOUT_S

    def validate(self) -> "SchedulerOptions":
        given = [n for n, v in (("--workers", self.workers or (self.gpus or None)), ("--scheduler", self.scheduler),
                                ("--cluster", self.cluster)) if v]
        if len(given) > 1:
            raise UserError(f"{' and '.join(given)} exclude each other: give one")
        if self.workers is not None and self.workers < 1:
            raise UserError(f"--workers {self.workers}: must be at least 1")
        if self.gpus < 0:
            raise UserError(f"--gpus {self.gpus}: must be at least 0")
        if self.retries < 0:
            raise UserError(f"--retries {self.retries}: must be at least 0")
        if self.cluster is not None and self.cluster != "slurm":
            raise UserError(f"--cluster {self.cluster}: only 'slurm' is supported")
        if self.cluster and self.cluster_config is None:
            raise UserError("--cluster slurm needs --cluster-config FILE (YAML: queue, account, walltime, cores, ...)")
        if self.cluster_config is not None and not self.cluster:
            raise UserError("--cluster-config needs --cluster slurm")
        if self.scheduler is not None and "://" not in self.scheduler and ":" not in self.scheduler:
            raise UserError(f"--scheduler {self.scheduler}: expected an address such as tcp://host:8786")
        return self

    @property
    def distributed(self) -> bool:
        return bool(self.workers or self.gpus or self.scheduler or self.cluster)


# ------------------------------------------------------------------------ SLURM config
def _pydantic_models():
    from pydantic import BaseModel, ConfigDict, Field

    class FamilyJobs(BaseModel):
        """Jobs whose workers start from a family's environment on the cluster."""

        model_config = ConfigDict(extra="forbid")
        python: str = Field(description="that environment's python on the cluster nodes")
        jobs: int = Field(1, ge=0)
        queue: str | None = None
        walltime: str | None = None
        cores: int | None = Field(None, ge=1)
        memory: str | None = None
        processes: int | None = Field(None, ge=1)
        gpus_per_job: int | None = Field(None, ge=0)
        env_activation: list[str] = Field(default_factory=list, description="shell lines run before the worker")
        job_extra_directives: list[str] = Field(default_factory=list)

    class SlurmConfig(BaseModel):
        """``--cluster-config`` for ``--cluster slurm`` (every key is checked: a typo is an error)."""

        model_config = ConfigDict(extra="forbid")
        queue: str | None = Field(None, description="partition (#SBATCH -p)")
        account: str | None = Field(None, description="#SBATCH -A")
        walltime: str = "01:00:00"
        cores: int = Field(..., ge=1, description="CPU cores per job")
        memory: str = Field(..., description="memory per job, e.g. 64GB")
        processes: int | None = Field(None, ge=1, description="workers per job (default: one per GPU, else one "
                                                              "per core)")
        gpus_per_job: int = Field(0, ge=0, description="GPUs per job: --gres=gpu:N and one pinned worker per GPU")
        jobs: int = Field(1, ge=0, description="jobs to submit for the main environment")
        python: str | None = Field(None, description="python on the nodes (default: this one)")
        env_activation: list[str] = Field(default_factory=list, description="shell lines run before the worker "
                                                                             "(module load, source venv/bin/activate)")
        job_extra_directives: list[str] = Field(default_factory=list, description="more #SBATCH lines")
        worker_command: Literal["dask", "dask-cuda"] = Field(
            "dask", description="dask: dask's worker (GPUs pinned by alloybench's preload); "
                                "dask-cuda: 'dask cuda worker' (dask-cuda installed on the nodes)")
        interface: str | None = Field(None, description="network interface of the workers, e.g. ib0")
        scheduler_interface: str | None = None
        local_directory: str | None = None
        log_directory: str | None = None
        death_timeout: float = 120
        dashboard_address: str = ":8787"
        families: dict[str, FamilyJobs] = Field(default_factory=dict,
                                                description="family environments: their own jobs and python")

    return FamilyJobs, SlurmConfig


def load_slurm_config(path: Path):
    """The parsed config; any mistake is one UserError line naming the file and key."""
    import yaml
    from pydantic import ValidationError

    _, SlurmConfig = _pydantic_models()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--cluster-config {path}: file not found")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"--cluster-config {path}: not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise UserError(f"--cluster-config {path}: expected a mapping of options (queue, account, cores, ...)")
    try:
        return SlurmConfig.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "(top)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        raise UserError(f"--cluster-config {path}: {where}: {msg}") from None


def _resources_arg(resources: dict[str, int]) -> list[str]:
    return ["--resources", ",".join(f"{k}={v}" for k, v in resources.items())] if resources else []


def slurm_job_kwargs(cfg, family: str | None = None) -> dict[str, Any]:
    """dask-jobqueue SLURMJob keyword arguments for the main workers (``family`` None)
    or for one family environment's workers."""
    fam = cfg.families[family] if family else None

    def pick(name: str):
        v = getattr(fam, name, None) if fam is not None else None
        return v if v is not None else getattr(cfg, name)

    cores, gpus = pick("cores"), pick("gpus_per_job")
    processes = pick("processes") or (gpus if gpus else cores)
    if gpus and processes != gpus:
        raise UserError(f"--cluster-config: {processes} processes per job with {gpus} GPUs: one worker per GPU "
                        f"needs processes = gpus_per_job")
    if processes > cores:
        raise UserError(f"--cluster-config: {processes} worker processes per job but only {cores} cores")
    resources: dict[str, int] = {}
    if family:
        resources[f"{ENV_RESOURCE}{family}"] = 1
    if gpus:
        resources[GPU_RESOURCE] = 1
    directives = [*cfg.job_extra_directives, *(fam.job_extra_directives if fam else [])]
    if gpus:
        directives.append(f"--gres=gpu:{gpus}")
    prologue = [*cfg.env_activation, *(fam.env_activation if fam else [])]
    cuda_cli = bool(gpus) and cfg.worker_command == "dask-cuda"
    if gpus and processes > 1 and not cuda_cli:
        prologue.append("export ALLOYBENCH_PIN_GPU=1  # each worker takes the GPU of its index (alloybench preload)")
    kwargs: dict[str, Any] = dict(
        queue=pick("queue"), account=cfg.account, walltime=pick("walltime"), cores=cores, memory=pick("memory"),
        processes=processes, job_extra_directives=directives, job_script_prologue=prologue,
        python=(fam.python if fam else cfg.python) or sys.executable,
        worker_extra_args=[*_resources_arg(resources), "--preload", PRELOAD],
        worker_command="dask_cuda.cli worker" if cuda_cli else "distributed.cli.dask_worker",
        death_timeout=cfg.death_timeout, job_name=f"alloybench-{family}" if family else "alloybench",
    )
    for opt in ("interface", "local_directory", "log_directory"):
        if getattr(cfg, opt):
            kwargs[opt] = getattr(cfg, opt)
    return kwargs


def _groups(cfg, families: set[str] | None) -> list[tuple[str | None, int]]:
    wanted = set(cfg.families) if families is None else families
    missing = sorted(f for f in wanted if f not in cfg.families)
    if missing:
        raise UserError(f"--cluster-config: the models need the family environment(s) {', '.join(missing)}: "
                        f"add them under 'families:' (python: ENV/bin/python, jobs: N)")
    return [(None, cfg.jobs)] + [(f, cfg.families[f].jobs) for f in sorted(wanted)]


def slurm_job_scripts(cfg, families: set[str] | None = None,
                      scheduler: str = "tcp://<scheduler-address>:8786") -> dict[str, str]:
    """dask-jobqueue's ``job_script()`` for each group of jobs (main, then each family)."""
    _require_jobqueue()
    from dask_jobqueue.slurm import SLURMJob

    out = {}
    for family, _ in _groups(cfg, families):
        job = SLURMJob(scheduler=scheduler, name=f"alloybench-{family or 'main'}", **slurm_job_kwargs(cfg, family))
        out[family or "main"] = job.job_script()
    return out


def _require_jobqueue() -> None:
    _require_dask()
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        raise MissingExtra("--cluster slurm", "dask", "dask-jobqueue") from None


def build_slurm_cluster(cfg, families: set[str]):
    """A SLURMCluster (scheduler in this process) with ``jobs`` jobs of main workers and,
    for each family the models need, that family's jobs started from its python."""
    _require_jobqueue()
    import dask
    from dask_jobqueue import SLURMCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        sched = {"dashboard_address": cfg.dashboard_address}
        if cfg.scheduler_interface:
            sched["interface"] = cfg.scheduler_interface
        cluster = SLURMCluster(scheduler_options=sched, **slurm_job_kwargs(cfg))
    groups = _groups(cfg, families)
    cluster.scale(jobs=groups[0][1])
    for family, jobs in groups[1:]:
        kwargs = slurm_job_kwargs(cfg, family)
        for i in range(jobs):
            spec: dict[str, Any] = {"cls": cluster.job_cls, "options": {**kwargs, "name": f"alloybench-{family}-{i}"}}
            if kwargs["processes"] > 1:
                spec["group"] = [f"-{p}" for p in range(kwargs["processes"])]
            cluster.worker_spec[f"alloybench-{family}-{i}"] = spec
    cluster.sync(cluster._correct_state)  # submits the family jobs next to the main ones
    return cluster


# ------------------------------------------------------------------------ local clusters
def _absolute_pythonpath(environ: dict[str, str]) -> dict[str, str]:
    if environ.get("PYTHONPATH"):
        environ["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in environ["PYTHONPATH"].split(os.pathsep)
                                                if p)
    return environ


def env_python_with_dask(family: str) -> Path:
    """The family environment's python, checked to have this client's dask distributed."""
    import distributed

    from alloybench import envs

    if not envs.env_ready(family):
        raise UserError(f"the models need the '{family}' environment: alloybench env create {family}")
    py = envs.env_python(family)
    p = subprocess.run([str(py), "-c", "import distributed; print(distributed.__version__)"], capture_output=True,
                       text=True, env=envs.worker_environ())
    have = p.stdout.strip() if p.returncode == 0 else None
    if have != distributed.__version__:
        state = f"has distributed {have}" if have else "has no dask distributed"
        raise UserError(f"the '{family}' environment {state} (this one: {distributed.__version__}): "
                        f"alloybench env create {family} --force --pip dask=={distributed.__version__} "
                        f"--pip distributed=={distributed.__version__}")
    return py


def gpu_worker_specs(gpus: int, threads: int = 1) -> dict[str, dict[str, Any]]:
    """One nanny per GPU, each with CUDA_VISIBLE_DEVICES of its own and GPU=1."""
    from distributed import Nanny

    return {f"gpu-{i}": {"cls": Nanny, "options": {"nthreads": threads, "resources": {GPU_RESOURCE: 1},
                                                   "env": {"CUDA_VISIBLE_DEVICES": str(i)}, "name": f"gpu-{i}",
                                                   "preload": [PRELOAD]}}
            for i in range(gpus)}


@dataclass
class Session:
    """A client connected to workers, with what this process started to get them."""

    client: Any
    options: SchedulerOptions
    cluster: Any = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def dashboard_link(self) -> str | None:
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001 - no dashboard (bokeh missing): nothing to print
            return None

    def workers(self) -> dict[str, dict[str, Any]]:
        """address -> {"env": family or None, "gpu": bool, "name": ...} for the live workers."""
        info = self.client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers(self.client) else \
            self.client.scheduler_info()["workers"]
        out = {}
        for addr, w in info.items():
            res = w.get("resources") or {}
            env = next((k[len(ENV_RESOURCE):] for k in res if k.startswith(ENV_RESOURCE)), None)
            out[addr] = {"env": env, "gpu": GPU_RESOURCE in res, "name": w.get("name")}
        return out

    def wait_for(self, kinds: set[str | None], timeout: float | None = None) -> None:
        """Until at least one worker of each kind (None: the main environment) is up."""
        limit = timeout if timeout is not None else self.options.start_timeout_s
        deadline = time.monotonic() + limit
        while True:
            have = {w["env"] for w in self.workers().values()}
            missing = [k for k in kinds if k not in have]
            if not missing:
                return
            for p in self.procs:
                if p.poll() is not None:
                    raise UserError(f"a worker process of the family environment stopped (status {p.returncode}) "
                                    f"before it joined the scheduler")
            if time.monotonic() > deadline:
                names = ", ".join("main environment" if k is None else f"env-{k}" for k in missing)
                raise UserError(f"no Dask worker for: {names} after {limit:.0f} s "
                                f"(family workers need --resources env-FAMILY=1)")
            time.sleep(0.5)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.cluster is not None:
            try:
                self.cluster.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _takes_n_workers(client) -> bool:
    return _scheduler_info_takes_n_workers(type(client))


@functools.cache
def _scheduler_info_takes_n_workers(client_type: type) -> bool:
    """Whether this distributed's Client.scheduler_info takes n_workers (asked once, not every poll)."""
    import inspect

    try:
        return "n_workers" in inspect.signature(client_type.scheduler_info).parameters
    except (TypeError, ValueError):
        return False


def open_session(options: SchedulerOptions, envs_needed: set[str | None] | None = None) -> Session:
    """Connect to (or start) the workers ``options`` describe.  ``envs_needed``: the
    environments the work runs in (None: the main one; a family name: its env), so a
    local cluster starts workers in each and a remote one is checked to have them."""
    _require_dask()
    import dask
    from distributed import Client, LocalCluster

    from alloybench.engine.dask_worker import EngineCache

    options.validate()
    kinds = {None} if envs_needed is None else set(envs_needed)
    session: Session
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=min(30.0, options.start_timeout_s))
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {options.scheduler}: cannot connect: {exc}") from None
        session = Session(client=client, options=options)
    elif options.cluster == "slurm":
        cfg = load_slurm_config(options.cluster_config)
        cluster = build_slurm_cluster(cfg, {k for k in kinds if k})
        session = Session(client=Client(cluster), options=options, cluster=cluster)
    else:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            n_main = (options.workers or 0) if None in kinds and not options.gpus else 0
            if options.gpus:
                from distributed import Scheduler, SpecCluster

                cluster = SpecCluster(workers=gpu_worker_specs(options.gpus, options.threads_per_worker),
                                      scheduler={"cls": Scheduler,
                                                 "options": {"dashboard_address": options.dashboard_address}})
            else:
                cluster = LocalCluster(n_workers=n_main, threads_per_worker=options.threads_per_worker,
                                       processes=True, dashboard_address=options.dashboard_address,
                                       preload=[PRELOAD], silence_logs=logging.ERROR)
        session = Session(client=Client(cluster), options=options, cluster=cluster)
        try:
            _start_env_workers(session, sorted(k for k in kinds if k), options.workers or 1)
        except BaseException:
            session.close()
            raise
    try:
        session.client.register_plugin(EngineCache(), name="alloybench-engines")
        session.wait_for(kinds)
    except BaseException:
        session.close()
        raise
    return session


def _start_env_workers(session: Session, families: list[str], n: int) -> None:
    from alloybench import envs

    address = session.cluster.scheduler_address
    for family in families:
        py = env_python_with_dask(family)
        cmd = [str(py), "-m", "distributed.cli.dask_worker", address, "--nworkers", str(n),
               "--nthreads", str(session.options.threads_per_worker), "--name", f"env-{family}",
               "--resources", f"{ENV_RESOURCE}{family}=1", "--preload", PRELOAD, "--no-dashboard",
               "--memory-limit", "0"]
        environ = _absolute_pythonpath(envs.worker_environ())
        log = open(os.devnull, "wb") if not os.environ.get("ALLOYBENCH_DASK_LOG") else \
            open(os.environ["ALLOYBENCH_DASK_LOG"], "ab")
        with log:
            session.procs.append(subprocess.Popen(cmd, env=environ, stdout=log, stderr=log, start_new_session=True))


__all__ = ["SchedulerOptions", "Session", "build_slurm_cluster", "load_slurm_config", "open_session",
           "slurm_job_kwargs", "slurm_job_scripts"]
