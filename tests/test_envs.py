"""envs/*.yaml (conda envs for `snakemake --sdm conda`) pin exactly what pyproject.toml pins."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from helpers import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))


def _name(req: str) -> str:
    return re.split(r"[=<>!~ ;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_name(d): d.split("==", 1)[1] for d in deps if "==" in d}


def test_envs_exist():
    assert {p.stem for p in ENVS} >= {"data", "train", "eval", "report"}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.stem)
def test_env_pins_match_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"]
    deps = spec["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    pins = pyproject_pins()
    for req in pip:
        name = _name(req)
        assert "==" in req, f"{env.name}: {req} is not pinned"
        assert name in pins, f"{env.name}: {name} is not a dependency in pyproject.toml"
        assert req.split("==", 1)[1] == pins[name], f"{env.name}: {req} but pyproject.toml pins {pins[name]}"
    # Snakemake runs the env's post-deploy script, which installs the project itself (editable).
    assert (env.parent / f"{env.stem}.post-deploy.sh").is_file()
