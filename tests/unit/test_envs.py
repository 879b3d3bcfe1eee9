"""The conda environment for --sdm conda carries exactly the pyproject pins."""

import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_conda_env_has_the_same_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "avrepro.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip) == sorted(project["dependencies"])
    assert all("==" in pin for pin in pip)
