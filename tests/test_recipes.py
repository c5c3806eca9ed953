"""The recipes of docs/own-model.md ("Use diffshare on your own model"), run as they are
written on tiny data.

Each recipe is a fenced block after a `<!-- recipe: NAME -->` comment (`file=F`: the block is
the content of file F, written before the commands run). Commands run in a scratch folder that
holds the files the recipe reads, built here from the bundled data at a tiny size; a snakemake
command gets the repository's Snakefile and config/tiny.yaml before the recipe's own config."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare

BIN = Path(sys.executable).parent
RECIPE = re.compile(r"<!-- recipe: (\w+)(?: file=(\S+))? -->\n```\w*\n(.*?)```", re.S)


def recipe(name: str) -> tuple[dict[str, str], list[list[str]]]:
    """The files (name -> content) and the commands (argument lists) of recipe ``name``."""
    files, commands = {}, []
    for found, file, block in RECIPE.findall((REPO / "docs" / "own-model.md").read_text()):
        if found != name:
            continue
        if file:
            files[file] = block
            continue
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith(("#", "pip ")):
                commands.append(shlex.split(line))
    assert commands, f"docs/own-model.md has no commands for recipe {name!r}"
    return files, commands


def run(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    program, *arguments = command
    if program == "snakemake":
        position = arguments.index("--configfile") + 1
        arguments[position:position] = [str(REPO / "config" / "tiny.yaml")]
        arguments = ["--snakefile", str(REPO / "Snakefile"), *arguments]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [str(BIN / program), *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


def start(tmp_path: Path, name: str) -> list[list[str]]:
    files, commands = recipe(name)
    for file, content in files.items():
        (tmp_path / file).write_text(content)
    return commands


def test_a_file_of_samples_is_checked(tmp_path, catalogue):
    entry = {**catalogue["adult"], "max_rows": {"train": 2000, "test": 1500}}
    train, test, _ = prepare(DatasetSpec.from_config("adult", entry, base_dir=REPO))
    train.to_csv(tmp_path / "samples.csv", index=False)
    test.iloc[:1000].to_csv(tmp_path / "aux.csv", index=False)
    test.iloc[1000:].to_csv(tmp_path / "reference.csv", index=False)
    for command in start(tmp_path, "samples"):
        run(command, tmp_path)
    leakage = pd.read_csv(tmp_path / "leakage.csv")
    assert list(leakage["attack"]) == ["column", "aux", "aux_corrected"]
    truth = (train["sex"] == "Female").mean()
    assert leakage.loc[0, "estimate"] == pytest.approx(truth, abs=0.05)
    assert (tmp_path / "report.html").read_text().count("Fairness audit") >= 1
    assert (tmp_path / "report.json").stat().st_size > 0


@pytest.mark.workflow
@pytest.mark.e2e
def test_a_family_of_ones_own_and_sdvs_join_the_sweep(tmp_path):
    pytest.importorskip("sdv")
    for command in start(tmp_path, "families"):
        run(command, tmp_path)
    table = pd.read_csv(tmp_path / "results" / "pia" / "adult.csv")
    assert set(table["generator"]) == {"tabddpm", "gaussian_copula", "marginals"}
    # only the samples of the sample-only families are kept: no model folder
    models = tmp_path / "results" / "generators" / "adult"
    assert sorted(p.name for p in models.iterdir()) == ["tabddpm"]
    summary = pd.read_csv(tmp_path / "results" / "pia" / "adult_summary.csv")
    assert "marginals" in set(summary["generator"])


def test_a_diffusers_pipeline_folder_is_checked(tmp_path):
    from test_diffusers_pipeline import save_ddpm

    save_ddpm(tmp_path / "my_pipeline")
    folder = tmp_path / "aux_images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        digit = i % 10
        level = 220 if digit == 0 else 30
        pixels = np.clip(rng.normal(level, 10, (8, 8)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
        rows.append({"file": f"{i:03d}.png", "digit": digit})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    first, second = start(tmp_path, "diffusers")
    rows = run(first, tmp_path).stdout
    assert "aux_corrected" in rows
    run(second, tmp_path)
    assert "Property leakage" in (tmp_path / "pipeline.html").read_text()
