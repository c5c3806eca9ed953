"""Paths: every swept number has one exact path text, and a moved checkout reruns nothing."""

import copy
import os
import random
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, snakemake
from diffshare.config import sweep_value
from diffshare.errors import ConfigError
from diffshare.validation import check_config

TARGET = "results/baseline/adult.csv"


@pytest.fixture
def config(catalogue):
    return {"datasets": copy.deepcopy(catalogue), "run": {"datasets": ["adult"], "seeds": [0]}}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (0.5, "0.5"),
        (0, "0"),
        (0.0, "0"),
        (1, "1"),
        (1.0, "1"),
        (1e-05, "0.00001"),  # {:g}: "1e-05", which the alpha wildcard does not match
        (0.1234567, "0.1234567"),  # {:g}: "0.123457", a different number
        (0.50000000001, "0.50000000001"),  # {:g}: "0.5", the same path as 0.5
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_sweep_value_is_the_shortest_exact_decimal(value, text):
    assert sweep_value(value) == text
    assert float(text) == value


def test_sweep_value_keeps_every_path_that_g_wrote_exactly():
    # Existing results keep their paths: where {:g} wrote a number exactly (and without an
    # exponent, which the wildcard never matched), sweep_value writes the same text.
    draw = random.Random(0)
    values = [k / 1000 for k in range(1001)] + [k / 10000 for k in range(1, 1001)]
    values += [round(draw.random(), draw.randint(1, 6)) for _ in range(5000)]
    kept = 0
    for value in values:
        old = f"{value:g}"
        if float(old) == value and "e" not in old:
            assert sweep_value(value) == old, value
            kept += 1
    assert kept > 6000


@pytest.mark.parametrize(
    "key", ["fpa.alphas", "pia.ratios", "image.fpa.alphas", "image.pia.ratios"]
)
def test_sweep_values_the_paths_cannot_hold_are_named(config, key):
    section, name = key.rsplit(".", 1)
    target = config
    for part in section.split("."):
        target = target.setdefault(part, {})
    for values, message in [
        ([0.5, float("nan")], rf"'{key}\[1\]': nan cannot be a path segment"),
        ([1e-40], rf"'{key}\[0\]': 1e-40 needs 42 characters"),
        ([0.5, 0.5], rf"'{key}\[1\]': 0.5 is the same sweep value as 0.5"),
        ([0.25, 1, 1.0], rf"'{key}\[2\]': 1.0 is the same sweep value as 1 \(both are '1'"),
    ]:
        target[name] = values
        with pytest.raises(ConfigError, match=message):
            check_config(config)
    for values in ([0.00001], [0.1234567], [0.5, 0.50000000001]):
        target[name] = values
        check_config(config)  # each has its own exact path


@pytest.mark.workflow
def test_unusual_sweep_values_schedule_their_exact_paths(tmp_path):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["fpa"].update(alphas=[0.1234567, 0.00001], attacks=["label_flip"])
    config["pia"].update(ratios=[0.00001], generators=["tvae"])
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        tmp_path,
        "results/fpa/adult.csv",
        "results/pia/adult.csv",
        "--dry-run",
        "--configfile",
        "sweep.yaml",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for segment in ("alpha~0.1234567/", "alpha~0.00001/", "ratio~0.00001/"):
        assert segment in output, segment
    assert "alpha~0.123457/" not in output and "e-05" not in output


def run_in(checkout, *args):
    """The snakemake command in ``checkout``, on its own Snakefile, as a user runs it there."""
    executable = shutil.which("snakemake") or os.path.join(
        os.path.dirname(sys.executable), "snakemake"
    )
    return subprocess.run(
        [executable, *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def small_checkout(folder):
    """What the baseline of the tiny config needs of this repository: the workflow, its
    config and profiles, Adult's raw files, and the library (linked)."""
    folder.mkdir()
    for name in ("workflow", "config", "envs", "profiles"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "Snakefile", folder / "Snakefile")
    shutil.copytree(REPO / "resources/data/adult", folder / "resources/data/adult")
    (folder / "src").symlink_to(REPO / "src")
    return folder


@pytest.mark.workflow
@pytest.mark.e2e
def test_a_moved_or_copied_checkout_reruns_nothing(tmp_path):
    checkout = small_checkout(tmp_path / "checkout")
    built = run_in(checkout, TARGET, "--cores", "2", "--configfile", "config/tiny.yaml")
    assert built.returncode == 0, built.stdout + built.stderr
    copied = tmp_path / "copied"
    shutil.copytree(checkout, copied, symlinks=True)  # with results/ and .snakemake/, mtimes kept
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    checkout.rename(moved)
    for place in (copied, moved):
        result = run_in(place, TARGET, "--dry-run", "--configfile", "config/tiny.yaml")
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Nothing to be done" in output, output
