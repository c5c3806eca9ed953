"""The SLURM profile on a real SLURM cluster: the tiny config submitted through
`--workflow-profile profiles/slurm`, every job a SLURM job.

CI starts a single-node cluster first (`.ci/slurm/start.sh`, with one fake GPU); where no cluster
answers, the test is skipped.
"""

import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from diffshare.validation import cuda_visible

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

GPU_RULES = {"train_generator", "sample_generator"}


def rules_claiming_a_gpu() -> set[str]:
    """Rules whose `resources:` claim the GPU (`gpu=gpu_claim`), read from the rule files."""
    claiming = set()
    for path in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule |use rule )", path.read_text()):
            name = re.match(r"(?:use )?rule (\w+)", block)
            if name and re.search(r"^\s+gpu=gpu_claim,", block, re.M):
                claiming.add(name.group(1))
    return claiming


def test_every_gpu_rule_has_a_partition_runtime_and_memory():
    # Needs no cluster: it reads the rules and the profile.
    claiming = rules_claiming_a_gpu()
    assert {"train_generator", "sample_generator", "sample_images"} <= claiming
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    for rule in sorted(claiming):
        settings = profile["set-resources"].get(rule, {})
        assert {"slurm_partition", "runtime", "mem_mb"} <= set(settings), rule
        assert rule in profile["set-threads"], rule


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_a_local_run_claims_a_gpu_only_where_its_jobs_use_one(tmp_path, device):
    # Needs no cluster: a dry run prints each job's resources ("cuda" is refused at load where
    # torch has no CUDA, so it is not run here). Under the default profile's
    # `gpu: 1` limit, a claim on a machine without a GPU would run the generator jobs one at a
    # time instead of side by side.
    has_gpu = cuda_visible()
    (tmp_path / "device.yaml").write_text(yaml.safe_dump({"generator": {"device": device}}))
    result = snakemake(
        tmp_path,
        "-n",
        "results/samples/adult/tabddpm/full/seed~0/samples.parquet",
        "--cores",
        "2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        str(tmp_path / "device.yaml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    claims = {
        rule: int(gpu)
        for rule, gpu in re.findall(
            r"^rule (\w+):\n(?:\s+.*\n)*?\s+resources: .*gpu=(\d+)", result.stdout, re.M
        )
    }
    expected = 1 if device == "auto" and has_gpu else 0
    assert claims == {"train_generator": expected, "sample_generator": expected}


def cluster_is_up() -> bool:
    if not (shutil.which("sinfo") and shutil.which("sacct")):
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return ping.returncode == 0 and "UP" in ping.stdout


@pytest.mark.skipif(not cluster_is_up(), reason="no SLURM cluster answers (see .ci/slurm/start.sh)")
@pytest.mark.e2e
def test_tiny_run_through_the_slurm_profile(tmp_path):
    targets = [
        "results/baseline/adult.csv",
        "results/samples/adult/tabddpm/full/seed~0/samples.parquet",
    ]
    result = snakemake(
        tmp_path,
        *targets,
        "--workflow-profile",
        str(REPO / "profiles/slurm"),
        "--jobs",
        "4",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        # The test node has 2 CPUs; the profile asks for 8 for the generator jobs.
        "--set-threads",
        "train_generator=2",
        "sample_generator=2",
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    table = pd.read_csv(tmp_path / "results/baseline/adult.csv")
    assert len(table) == 2 * 2  # classifiers x seeds
    # Every job left a SLURM log named by its SLURM job id: slurm_logs/rule_<rule>/.../<id>.log
    logs = tmp_path / ".snakemake/slurm_logs"
    jobs = {
        path.stem: path.relative_to(logs).parts[0].removeprefix("rule_")
        for path in logs.rglob("*.log")
    }
    rules = set(jobs.values())
    assert {"prepare", "train_classifier", "baseline"} | GPU_RULES <= rules
    accounting = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", ",".join(jobs), "--format=JobID,Partition,State"],
        capture_output=True,
        text=True,
        check=True,
    )
    records = [line.split("|") for line in accounting.stdout.split()]
    assert sorted(r[0] for r in records) == sorted(jobs), accounting.stdout
    for job_id, partition, state in records:
        assert state == "COMPLETED", records
        expected = "gpu" if jobs[job_id] in GPU_RULES else "debug"
        assert partition == expected, (jobs[job_id], partition)
