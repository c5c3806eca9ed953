from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def catalogue() -> dict:
    """The shipped dataset catalogue (config/datasets.yaml), keyed by dataset name."""
    return yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())["datasets"]


def write_gz(path: Path, text: str) -> str:
    """Write ``text`` gzip-compressed to ``path``; return the SHA-256 of the uncompressed bytes."""
    data = text.encode()
    path.write_bytes(gzip.compress(data))
    return hashlib.sha256(data).hexdigest()


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real snakemake command on the repository's Snakefile in ``workdir``."""
    executable = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [executable, "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
