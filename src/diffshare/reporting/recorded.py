"""Recorded runs: a run's tables, figures, job times, settings, commit and machine kept under
``docs/recorded/<name>/`` with a ``run.json``, so that the documentation's results pages
(:mod:`diffshare.reporting.site`) are rendered from what was run, never typed.

:func:`record_run` keeps a run (``python -m diffshare.docs record``); :func:`read_run` and
:func:`recorded_runs` read them back; :func:`run_setting` is a setting a run ran with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from diffshare.config import schema_defaults
from diffshare.errors import DataError
from diffshare.reporting.benchmarks import collect_benchmarks

#: Keys of a recorded run's ``run.json``.
RUN_KEYS = ("title", "dataset", "command", "configfiles", "commit", "date", "machine")

#: What a recorded run keeps of results/: each path with ``{d}`` the dataset; kept as the
#: workflow wrote it, with ``/`` as ``_`` (results/pia/calibration/adult.csv:
#: pia_calibration_adult.csv).
RECORDED = (
    "claims/{d}.csv",
    "fpa/{d}.csv",
    "fpa/{d}_summary.csv",
    "fpa/{d}.png",
    "pia/{d}.csv",
    "pia/{d}_summary.csv",
    "pia/{d}.png",
    "pia/calibration/{d}.csv",
    "audit/{d}.csv",
    "audit/{d}_summary.csv",
    "defense/fpa/{d}.csv",
    "defense/pia/{d}_leakage.csv",
)


def machine() -> dict[str, str]:
    """The machine this runs on, as a recorded run states it."""
    import platform

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    info = {"cpu": cpu, "cores": str(os.cpu_count())}
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        info["memory"] = f"{memory:.0f} GiB"
    info["python"] = platform.python_version()
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        pass
    return info


def head_commit(root: Path) -> str:
    """The checkout's commit, refused when ``src/`` or ``workflow/`` hold uncommitted edits
    (the commit would then not say what code ran)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        if result.returncode:
            raise DataError(f"cannot tell the run's commit in {root}: {result.stderr.strip()}")
        return result.stdout.strip()

    dirty = git("status", "--porcelain", "--", "src", "workflow")
    if dirty:
        raise DataError(
            "src/ or workflow/ has uncommitted edits, so no commit says what code ran "
            f"(record from a clean checkout, or name the run's commit): {dirty.splitlines()[0]}"
        )
    return git("rev-parse", "--short", "HEAD")


def record_run(
    results: Path,
    folder: Path,
    run: Mapping[str, Any],
    root: Path,
) -> list[str]:
    """Copy a run's tables and figures (:data:`RECORDED`) and its jobs' times
    (``benchmarks.csv``, from results/benchmarks/) into ``folder``, with its settings files and
    ``run.json``; return the files written."""
    missing = [k for k in ("title", "dataset", "command", "configfiles") if k not in run]
    if missing:
        raise DataError(f"the run to record lacks {missing}")
    dataset = run["dataset"]
    sources = [results / name.format(d=dataset) for name in RECORDED]
    sources = [p for p in sources if p.is_file()]
    if not sources:
        raise DataError(f"{results} holds none of the tables of a run on {dataset!r}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        target = folder / path.relative_to(results).as_posix().replace("/", "_")
        shutil.copyfile(path, target)
        written.append(target.name)
    if (results / "benchmarks").is_dir():
        collect_benchmarks(results / "benchmarks").to_csv(folder / "benchmarks.csv", index=False)
        written.append("benchmarks.csv")
    for config in run["configfiles"]:
        shutil.copyfile(root / config, folder / Path(config).name)
        written.append(Path(config).name)
    record = {
        **run,
        "commit": run.get("commit") or head_commit(root),
        "date": run.get("date") or time.strftime("%Y-%m-%d"),
        "machine": run.get("machine") or machine(),
    }
    (folder / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return [*written, "run.json"]


def read_run(folder: Path) -> dict[str, Any]:
    """A recorded run's ``run.json``, checked for :data:`RUN_KEYS`."""
    run = json.loads((folder / "run.json").read_text())
    missing = [k for k in RUN_KEYS if k not in run]
    if missing:
        raise DataError(f"{folder / 'run.json'} lacks the keys {missing}")
    return run


def recorded_runs(root: Path) -> list[str]:
    """Folders under docs/recorded/ holding a run.json, sorted."""
    return sorted(p.parent.name for p in (root / "docs/recorded").glob("*/run.json"))


def run_setting(root: Path, folder: str, run: Mapping[str, Any], *keys: str) -> Any:
    """A setting of a recorded run: its settings files (kept beside its tables) merged in
    order over the schema's defaults."""
    with open(root / "workflow/schemas/config.schema.yaml") as handle:
        value: Any = schema_defaults(yaml.safe_load(handle))
    found = value
    for key in keys:
        found = found.get(key) if isinstance(found, Mapping) else None
    for config in run["configfiles"]:
        with open(root / "docs/recorded" / folder / Path(config).name) as handle:
            node: Any = yaml.safe_load(handle) or {}
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None:
            found = node
    return found
