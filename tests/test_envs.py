"""The conda environments in envs/ stay in step with pyproject.toml's dependencies."""

import re

import pytest
import yaml

from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

#: PyPI name -> conda-forge name, per environment; snakemake runs outside the environments.
CONDA_NAMES = {
    "envs/diffshare.yaml": {"torch": "pytorch-cpu", "snakemake": None},
    "envs/diffshare-cuda.yaml": {"torch": "pytorch-gpu", "snakemake": None},
}


def requirements(lines):
    """name -> version specifier (text after the name), for 'name>=1,<2' style lines."""
    parsed = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", line.strip())
        assert match, line
        parsed[match[1].lower()] = match[2].replace(" ", "")
    return parsed


@pytest.mark.parametrize("env_file", sorted(CONDA_NAMES))
def test_environment_matches_pyproject(env_file):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {}
    for name, spec in requirements(project["dependencies"]).items():
        conda_name = CONDA_NAMES[env_file].get(name, name)
        if conda_name is not None:
            wanted[conda_name] = spec
    wanted["python"] = project["requires-python"].replace(" ", "")
    env = yaml.safe_load((REPO / env_file).read_text())
    assert env["channels"][0] == "conda-forge"
    assert requirements(d for d in env["dependencies"] if isinstance(d, str)) == wanted


def test_every_rule_runs_in_the_conda_environment():
    for path in (REPO / "workflow/rules").glob("*.smk"):
        text = path.read_text()
        rules = re.findall(r"^rule (\w+):", text, re.M)
        assert text.count("    conda:\n        CONDA_ENV\n") == len(rules), path.name
