"""Wall time of a workflow target built from nothing by two versions of the code: a baseline
revision against this checkout, in one run.

    python benchmarks/workflow_cost.py --baseline REV [--cores 2] \
        [--configfile config/paper.yaml [--configfile more.yaml]] [--keep DIR] TARGET...

For each version in turn (the baseline first), in a new empty working folder: the repository's
files at that version (``git worktree add --detach``, removed afterwards; this checkout's working
tree for the second), then ``snakemake --cores CORES TARGET... --configfile ...`` with that
version's Snakefile, and its library first on ``PYTHONPATH`` (so the jobs import that version's
``diffshare``, not the installed one). Configfiles are read from the version's own tree when
given as paths inside the repository, so the baseline runs with the settings it had; an
absolute path (settings of your own, e.g. one seed) is read as it is by both.

Printed per version: the wall time, the number of jobs, and the jobs' own seconds rule by rule
from their benchmark files (``results/benchmarks/{rule}/...tsv``, largest first); then whether
the two built the same tables (every CSV under ``results/`` that both wrote: same rows and
columns, and the largest difference of a numeric cell, since float rounding may differ); and,
last line, the baseline's wall time over this checkout's, ``<ratio>x``.

Run it alone: two cores shared with anything else give neither figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from compare_results import differences  # beside this script

from diffshare.reporting.benchmarks import collect_benchmarks

ROOT = Path(__file__).resolve().parents[1]


def build(tree: Path, workdir: Path, targets: list[str], configs: list[str], cores: int):
    """Run snakemake for ``targets`` in ``workdir`` with ``tree``'s Snakefile and library;
    return the wall seconds and the number of jobs it ran."""
    executable = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    command = [executable, "--snakefile", str(tree / "Snakefile"), *targets]
    command += ["--cores", str(cores)]
    if configs:
        command += ["--configfile", *[str(tree / c) for c in configs]]  # absolute: as given
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    if result.returncode:
        raise SystemExit(
            f"snakemake failed in {workdir} (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    jobs = (result.stdout + result.stderr).count("Finished jobid")
    return seconds, jobs


def rule_seconds(workdir: Path) -> dict[str, tuple[int, float]]:
    """Jobs and seconds per rule from the jobs' benchmark files (results/benchmarks.csv's
    reader)."""
    table = collect_benchmarks(workdir / "results" / "benchmarks")
    totals = table.groupby("rule")["seconds"].agg(["count", "sum"])
    return {rule: (int(row["count"]), float(row["sum"])) for rule, row in totals.iterrows()}


def compare_tables(first: Path, second: Path) -> list[str]:
    """One line per CSV under results/ that both folders wrote: its non-numeric cells checked
    by compare_results.py's :func:`differences`, and the largest difference of a numeric cell."""
    lines = []
    for path in sorted((first / "results").rglob("*.csv")):
        relative = path.relative_to(first)
        other = second / relative
        if "benchmarks" in relative.parts or not other.exists():
            continue
        a, b = pd.read_csv(path), pd.read_csv(other)
        if a.shape != b.shape or list(a.columns) != list(b.columns):
            lines.append(f"{relative}: shapes differ, {a.shape} against {b.shape}")
            continue
        numeric = [c for c in a.columns if a[c].dtype.kind == "f" and b[c].dtype.kind == "f"]
        others = [c for c in a.columns if c not in numeric]
        found = differences(a[others], b[others], tolerance=0.0)
        difference = np.nanmax(np.abs(a[numeric].to_numpy() - b[numeric].to_numpy()), initial=0)
        cells = f"DIFFER: {found[0]}" if found else "equal"
        lines.append(
            f"{relative}: {a.shape[0]} rows; other cells {cells}; "
            f"largest numeric difference {difference:.3g}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--baseline", required=True, help="git revision of the baseline code")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--configfile", action="append", default=[], help="a config file (repeat for several)"
    )
    parser.add_argument("--keep", type=Path, help="keep both working folders under this one")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="workflow-cost-", dir=args.keep))
    baseline_tree = scratch / "baseline-code"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(baseline_tree), args.baseline],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    walls = {}
    try:
        for name, tree in (("baseline " + args.baseline, baseline_tree), ("this checkout", ROOT)):
            workdir = scratch / ("baseline" if tree == baseline_tree else "checkout")
            workdir.mkdir()
            seconds, jobs = build(tree, workdir, args.targets, args.configfile, args.cores)
            walls[name] = (seconds, workdir)
            print(f"{name}: {seconds:.1f} s wall, {jobs} jobs")
            for rule, (count, total) in sorted(
                rule_seconds(workdir).items(), key=lambda item: -item[1][1]
            ):
                print(f"  {rule}: {count} jobs, {total:.1f} s ({total / count:.1f} s a job)")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(baseline_tree)],
            cwd=ROOT,
            capture_output=True,
        )
    (before, first), (after, second) = walls.values()
    print("tables both built:")
    for line in compare_tables(first, second):
        print("  " + line)
    if args.keep is None:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{before / after:.2f}x")


if __name__ == "__main__":
    main()
