from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n 2`: two workers share the cores, so one thread each for torch and OpenMP (set
    # before either is imported). The snakemake jobs set their own from `threads:`.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


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


# -- scheduling: the long waits first ----------------------------------------------------------
# `python -m pytest -n 2` hands out whole files in collection order (pyproject.toml's addopts:
# --dist loadfile --no-loadscope-reorder). These modules go first: the SLURM submission mostly
# waits on the scheduler's polling, test_workflow's tests wait on the shared build below (their
# own runs that need no shared tree go first), and the image build shares nothing. The short unit
# tests then fill both workers to the end.
FIRST = (
    "test_slurm.py",
    "test_workflow.py",
    "test_image_workflow.py",
    "test_defense_fpa_workflow.py",
    "test_defense_pia_workflow.py",
    "test_image_defense.py",
)


def pytest_collection_modifyitems(session, config, items):
    """Put the FIRST modules first, in that order; inside a module, the tests that do not need
    the shared tiny tree before those that do. (A stable sort: the order is otherwise kept.)"""

    def rank(item):
        name = item.path.name
        module = FIRST.index(name) if name in FIRST else len(FIRST)
        return module, "shared_tiny" in getattr(item, "fixturenames", ())

    items.sort(key=rank)


# -- one tiny build shared by the tabular workflow modules ---------------------------------------
# test_workflow.py, test_defense_fpa_workflow.py and test_defense_pia_workflow.py each start from
# a copy of one tree (their own tmp folder: nothing mutable is shared), built by ONE snakemake
# call in the background from the first test on, while other tests run. Each module then runs
# its own snakemake commands on its copy, as before: the jobs the copy holds are not rerun.
# The build's config: tiny.yaml plus SHARED_SETTINGS, which change no job that test_workflow.py's
# and test_defense_fpa_workflow.py's plain tiny configs run (threads are no rerun trigger, and
# only the sharer's defense reads defense.pia). SHARED_TARGETS: what the modules build, the FPA
# table excepted (`--omit-from fpa`: test_workflow.py reports on a tree without it first; its
# upstream jobs, both seeds of the sweep, are built).
SHARED_SETTINGS = {
    # test_defense_pia_workflow.py's settings: one epsilon, and one thread per job (tiny
    # networks, two jobs at once on two cores).
    "defense": {"pia": {"epsilons": [10]}},
    "generator": {"threads": 1},
}
SHARED_TARGETS = (
    "results/baseline/adult.csv",
    "results/utility/adult.csv",
    "results/fpa/adult.csv",
    "results/pia/adult.csv",
    "results/defense/pia/adult.csv",
    "results/defense/pia/adult.png",
)
SHARED_TIMEOUT = 1800  # seconds a module waits for the shared build
_shared_build: dict = {}  # the build this process started: its process and waiting thread


def shared_root(tmp_path_factory) -> Path:
    """The folder every process of this test run sees: with pytest-xdist, the one above each
    worker's own base temporary folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def start_shared_build(root: Path) -> None:
    """Start the shared build in ``root``/shared_tiny, once per test run (whichever process asks
    first; the others find it started). ``root``/shared_tiny.rc holds snakemake's exit status
    once it is done, shared_tiny.log its output."""
    try:
        os.close(os.open(root / "shared_tiny.started", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    tree = root / "shared_tiny"
    tree.mkdir()
    (tree / "shared.yaml").write_text(yaml.safe_dump(SHARED_SETTINGS))
    executable = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    log = open(root / "shared_tiny.log", "w")  # noqa: SIM115 (closed by the waiting thread)
    process = subprocess.Popen(
        [
            *(executable, "--snakefile", str(REPO / "Snakefile")),
            *SHARED_TARGETS,
            *("--omit-from", "fpa", "--cores", "2"),
            *("--configfile", str(REPO / "config/tiny.yaml"), "shared.yaml"),
        ],
        cwd=tree,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )

    def wait():
        code = process.wait()
        log.close()
        (root / "shared_tiny.rc.tmp").write_text(str(code))
        os.replace(root / "shared_tiny.rc.tmp", root / "shared_tiny.rc")

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    _shared_build.update(process=process, thread=thread)


def wait_for_shared_build(root: Path) -> Path:
    """The shared tree once its build is done; fail with the build's output if it failed."""
    status = root / "shared_tiny.rc"
    deadline = time.monotonic() + SHARED_TIMEOUT
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the shared tiny build did not finish in {SHARED_TIMEOUT} s")
        time.sleep(1)
    if status.read_text() != "0":
        output = (root / "shared_tiny.log").read_text()
        pytest.fail(f"the shared tiny build failed:\n{output[-20000:]}")
    return root / "shared_tiny"


@pytest.fixture(scope="session", autouse=True)
def _start_shared_build_early(request, tmp_path_factory):
    """Start the shared build with the first test, where any selected test needs it."""
    if any("shared_tiny" in getattr(item, "fixturenames", ()) for item in request.session.items):
        start_shared_build(shared_root(tmp_path_factory))


@pytest.fixture(scope="session")
def shared_tiny(tmp_path_factory):
    """``shared_tiny(name)``: a fresh copy of the shared tiny tree in a new tmp folder named
    after ``name`` (file times and snakemake's records kept, so its jobs count as done)."""
    root = shared_root(tmp_path_factory)
    start_shared_build(root)

    def copy(name: str) -> Path:
        tree = wait_for_shared_build(root)
        # Beside the tree, not in this worker's folder: snakemake records input paths outside
        # the working directory (the repository's raw data) relative to it, so a copy at
        # another depth would see new inputs and rerun everything.
        workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        shutil.copytree(tree, workdir, symlinks=True, dirs_exist_ok=True)
        return workdir

    return copy


def pytest_sessionfinish(session, exitstatus):
    """Wait for a shared build this process started (another worker may still need it); stop
    it if the run was interrupted."""
    process = _shared_build.get("process")
    if process is None:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED and process.poll() is None:
        process.terminate()
    _shared_build["thread"].join()
