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
from dataclasses import dataclass
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


@pytest.fixture(scope="module")
def small_adult(catalogue):
    """3,000 prepared Adult training rows, 1,500 test rows and their schema."""
    from diffshare.data.tabular import DatasetSpec, prepare

    entry = {**catalogue["adult"], "max_rows": {"train": 3000, "test": 1500}}
    return prepare(DatasetSpec.from_config("adult", entry, base_dir=REPO))


@pytest.fixture(scope="module")
def one_thread():
    """One thread for scikit-learn's OpenMP (gradient boosting) while a module runs: with two
    cores shared with other work its spinning threads slow it down tenfold; the numbers are
    the same."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks run fastest on one torch thread (and do not spin-wait on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
# waits on the scheduler's polling, the workflow modules' tests wait on the shared builds below
# (their own runs that need no shared tree go first). The short unit tests then fill both
# workers to the end.
FIRST = (
    "test_slurm.py",
    "test_workflow.py",
    "test_image_workflow.py",
    "test_defense_fpa_workflow.py",
    "test_defense_pia_workflow.py",
    "test_image_defense.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so that the marks added here count
def pytest_collection_modifyitems(session, config, items):
    """Mark every test that needs a shared build's tree ``e2e``; put the FIRST modules first, in
    that order; inside a module, the tests that do not need a shared build's tree before those
    that do. (A stable sort: the order is otherwise kept.)"""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SHARED_BUILDS):
            item.add_marker(pytest.mark.e2e)

    def rank(item):
        name = item.path.name
        module = FIRST.index(name) if name in FIRST else len(FIRST)
        fixtures = getattr(item, "fixturenames", ())
        return module, any(name in fixtures for name in SHARED_BUILDS)

    items.sort(key=rank)


# -- builds shared by several workflow modules --------------------------------------------------
# Each SharedBuild is ONE snakemake call, started in the background from the first test on (by
# whichever test process asks first) while other tests run; every module that needs it starts
# from its own copy (its own tmp folder: nothing mutable is shared) and runs its own snakemake
# commands there, as before: the jobs the copy holds are not rerun.
#
# shared_tiny: test_workflow.py, test_defense_fpa_workflow.py and test_defense_pia_workflow.py.
# Its config: tiny.yaml plus SHARED_SETTINGS, which change no job that test_workflow.py's and
# test_defense_fpa_workflow.py's plain tiny configs run (threads are no rerun trigger, and only
# the sharer's defense reads defense.pia). SHARED_TARGETS: what the modules build, the FPA table
# excepted (`--omit-from fpa`: test_workflow.py reports on a tree without it first; its upstream
# jobs, both seeds of the sweep, are built).
SHARED_SETTINGS = {
    # test_defense_pia_workflow.py's settings: one epsilon, SDV's sample-only copula defended
    # beside tabddpm (decoy sampling and DP-SGD skip it, named), and one thread per job (tiny
    # networks, two jobs at once on two cores).
    "defense": {"pia": {"epsilons": [10], "generators": ["tabddpm", "gaussian_copula"]}},
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
# shared_images: test_image_workflow.py's run of the image track (one seed; one thread per job on
# the CPU lets two jobs run at once on two cores, where a GPU job would hold the profile's single
# `gpu` resource; a checkpoint every 2 of the 4 diffusion steps makes training write one, so that
# its removal is tested), from which test_image_defense.py's audit and mitigations start: the
# prepared images, the feature CNN, MINE and the selections are built once.
IMAGE_SETTINGS = {
    "run": {"seeds": [0]},
    "generator": {"checkpoint_every": 2, "threads": 1, "device": "cpu"},
    # the calibrated attack on images: one shadow per share and family on the test images
    "image": {"pia": {"attacks": ["aux", "aux_corrected", "calibrated"]}},
}
IMAGE_TARGETS = (
    "results/fpa/cmnist.csv",
    "results/fpa/cmnist.png",
    "results/pia/mnist.csv",
    "results/pia/mnist.png",
    "results/quality/cmnist.csv",
    "results/quality/mnist.csv",
)


@dataclass(frozen=True)
class SharedBuild:
    """A build's targets, its settings (written as ``settings_file`` in the tree, after
    config/tiny.yaml) and snakemake's further arguments."""

    targets: tuple[str, ...]
    settings: dict
    settings_file: str
    arguments: tuple[str, ...] = ()


SHARED_BUILDS = {
    "shared_tiny": SharedBuild(
        SHARED_TARGETS, SHARED_SETTINGS, "shared.yaml", ("--omit-from", "fpa")
    ),
    "shared_images": SharedBuild(IMAGE_TARGETS, IMAGE_SETTINGS, "seed0.yaml"),
}
SHARED_TIMEOUT = 1800  # seconds a module waits for a shared build
_shared_builds: dict = {}  # name -> the build this process started: its process, waiting thread


def shared_root(tmp_path_factory) -> Path:
    """The folder every process of this test run sees: with pytest-xdist, the one above each
    worker's own base temporary folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def start_shared_build(root: Path, name: str) -> None:
    """Start the build ``name`` in ``root``/``name``, once per test run (whichever process asks
    first; the others find it started). ``root``/``name``.rc holds snakemake's exit status once
    it is done, ``name``.log its output."""
    try:
        os.close(os.open(root / f"{name}.started", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    build = SHARED_BUILDS[name]
    tree = root / name
    tree.mkdir()
    (tree / build.settings_file).write_text(yaml.safe_dump(build.settings))
    executable = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    log = open(root / f"{name}.log", "w")  # noqa: SIM115 (closed by the waiting thread)
    process = subprocess.Popen(
        [
            *(executable, "--snakefile", str(REPO / "Snakefile")),
            *build.targets,
            *build.arguments,
            "--cores",
            "2",
            *("--configfile", str(REPO / "config/tiny.yaml"), build.settings_file),
        ],
        cwd=tree,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )

    def wait():
        code = process.wait()
        log.close()
        (root / f"{name}.rc.tmp").write_text(str(code))
        os.replace(root / f"{name}.rc.tmp", root / f"{name}.rc")

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    _shared_builds[name] = {"process": process, "thread": thread}


def wait_for_shared_build(root: Path, name: str) -> Path:
    """The build's tree once it is done; fail with the build's output if it failed."""
    status = root / f"{name}.rc"
    deadline = time.monotonic() + SHARED_TIMEOUT
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the shared build {name} did not finish in {SHARED_TIMEOUT} s")
        time.sleep(1)
    if status.read_text() != "0":
        output = (root / f"{name}.log").read_text()
        pytest.fail(f"the shared build {name} failed:\n{output[-20000:]}")
    return root / name


@pytest.fixture(scope="session", autouse=True)
def _start_shared_builds_early(request, tmp_path_factory):
    """Start each shared build with the first test, where any selected test needs it."""
    for name in SHARED_BUILDS:
        if any(name in getattr(item, "fixturenames", ()) for item in request.session.items):
            start_shared_build(shared_root(tmp_path_factory), name)


def _copier(tmp_path_factory, name: str):
    root = shared_root(tmp_path_factory)
    start_shared_build(root, name)

    def copy(prefix: str) -> Path:
        tree = wait_for_shared_build(root, name)
        # Beside the tree, not in this worker's folder: snakemake records input paths outside
        # the working directory (the repository's raw data) relative to it, so a copy at
        # another depth would see new inputs and rerun everything.
        workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root))
        shutil.copytree(tree, workdir, symlinks=True, dirs_exist_ok=True)
        return workdir

    return copy


@pytest.fixture(scope="session")
def shared_tiny(tmp_path_factory):
    """``shared_tiny(prefix)``: a fresh copy of the shared tiny tree in a new tmp folder named
    after ``prefix`` (file times and snakemake's records kept, so its jobs count as done)."""
    return _copier(tmp_path_factory, "shared_tiny")


@pytest.fixture(scope="session")
def shared_images(tmp_path_factory):
    """``shared_images(prefix)``: a fresh copy of the shared image tree, as ``shared_tiny``."""
    return _copier(tmp_path_factory, "shared_images")


def pytest_sessionfinish(session, exitstatus):
    """Wait for the shared builds this process started (another worker may still need them);
    stop them if the run was interrupted."""
    for build in _shared_builds.values():
        process = build["process"]
        if exitstatus == pytest.ExitCode.INTERRUPTED and process.poll() is None:
            process.terminate()
        build["thread"].join()
