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

Or, with ``--baseline-recorded docs/recorded/NAME`` instead of ``--baseline``, against a run
recorded earlier (``python -m diffshare.docs record``) of the same targets and settings, when
building the baseline again would take hours: only this checkout is built, the baseline's wall
time and jobs' seconds are the recorded ones (its ``run.json`` and ``benchmarks.csv``), and the
tables compared are the recorded copies (``results/claims/adult.csv`` recorded as
``claims_adult.csv``), with the claims' verdicts compared at the recorded correction and with
none. Compare like with like: a recorded run from another kind of machine gives no ratio.

Or, with ``--on-top DIR``, what other settings add to a finished build: in ``DIR`` (the
``checkout`` folder a run with ``--keep`` left, its targets built at other settings), the
targets are built again with these configfiles, and snakemake runs only the jobs the new
settings need (those of the calibrated property inference attack, its shadow models, when
``config/paper.yaml`` follows a build with ``config/paper-raw.yaml`` layered over it). Printed:
the added wall time and jobs, the jobs' own seconds by rule and, for the shared models' rules,
by family and kind of training set (``shadow``, ``ratio``, ``attack``); last line the added
wall time, ``+<minutes> min``.

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
from diffshare.reporting.claims import verdict
from diffshare.reporting.site import FAMILY_RULES

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


def job_totals(table: pd.DataFrame, keys: str | list[str] = "rule") -> dict:
    """Jobs and seconds per ``keys`` of a table of jobs' times (:func:`collect_benchmarks`'s,
    or a recorded run's benchmarks.csv), as ``{key: (jobs, seconds)}``."""
    totals = table.groupby(keys)["seconds"].agg(["count", "sum"])
    return {key: (int(row["count"]), float(row["sum"])) for key, row in totals.iterrows()}


def print_totals(totals: dict, indent: str = "  ", largest_first: bool = True) -> None:
    """One line per key of :func:`job_totals`: ``key: N jobs, S s (S/N s a job)``."""
    items = (
        sorted(totals.items(), key=lambda item: -item[1][1]) if largest_first else totals.items()
    )
    for key, (count, total) in items:
        label = " ".join(key) if isinstance(key, tuple) else key
        print(f"{indent}{label}: {count} jobs, {total:.1f} s ({total / count:.1f} s a job)")


def rule_seconds(workdir: Path) -> dict:
    """Jobs and seconds per rule from the jobs' benchmark files (results/benchmarks.csv's
    reader)."""
    return job_totals(collect_benchmarks(workdir / "results" / "benchmarks"))


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


def recorded_rule_seconds(folder: Path) -> dict:
    """Jobs and seconds per rule of a recorded run (its benchmarks.csv)."""
    return job_totals(pd.read_csv(folder / "benchmarks.csv"))


def verdicts(claims: pd.DataFrame, level: float) -> dict[str, pd.Series]:
    """The claims' verdicts as recorded (at the run's correction) and at correction none (the
    claims report's own rule on the unadjusted p-values), keyed by the scope's description."""
    raw = [
        verdict(int(row.n_seeds), row.p_value, row.p_value_against, level)
        for row in claims.itertuples()
    ]
    return {
        "recorded correction": pd.Series(claims["verdict"].to_numpy(), index=claims["description"]),
        "none": pd.Series(raw, index=claims["description"]),
    }


def compare_recorded(folder: Path, workdir: Path, level: float) -> list[str]:
    """Each recorded CSV against this build's table of the same name; the claims' verdicts."""
    results = workdir / "results"
    # the recorded name of each built table: its path under results/ with "/" as "_"
    tables = {
        p.relative_to(results).as_posix().replace("/", "_"): p for p in results.rglob("*.csv")
    }
    lines = []
    for path in sorted(folder.glob("*.csv")):
        if path.name == "benchmarks.csv":
            continue
        built = tables.get(path.name)
        if built is None:
            lines.append(f"{path.name}: not built")
            continue
        a, b = pd.read_csv(path), pd.read_csv(built)
        if a.shape != b.shape or list(a.columns) != list(b.columns):
            lines.append(f"{path.name}: shapes differ, {a.shape} against {b.shape}")
            continue
        if "verdict" not in a.columns:
            lines.append(f"{path.name}: {a.shape[0]} rows, the same columns")
            continue
        before, after = verdicts(a, level), verdicts(b, level)
        for correction in before:
            old, new = before[correction], after[correction].reindex(before[correction].index)
            moved = old[old != new]
            lines.append(
                f"{path.name}: verdicts at correction {correction}: "
                f"{len(old) - len(moved)} of {len(old)} the same"
            )
            lines += [f"    moved: {scope}: {old[scope]} -> {new[scope]}" for scope in moved.index]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+")
    baseline = parser.add_mutually_exclusive_group(required=True)
    baseline.add_argument("--baseline", help="git revision of the baseline code")
    baseline.add_argument(
        "--baseline-recorded",
        type=Path,
        help="a recorded run's folder (docs/recorded/NAME) as the baseline, not built again",
    )
    baseline.add_argument(
        "--on-top",
        type=Path,
        help="a kept working folder whose build this one adds to (no baseline, no ratio)",
    )
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--configfile", action="append", default=[], help="a config file (repeat for several)"
    )
    parser.add_argument("--keep", type=Path, help="keep both working folders under this one")
    args = parser.parse_args()

    if args.on_top:
        on_top(args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="workflow-cost-", dir=args.keep))
    if args.baseline_recorded:
        against_recorded(args, scratch)
        return
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
            print_totals(rule_seconds(workdir))
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


def against_recorded(args: argparse.Namespace, scratch: Path) -> None:
    """This checkout built from nothing, against the recorded run ``args.baseline_recorded``."""
    import json

    folder = args.baseline_recorded
    run = json.loads((folder / "run.json").read_text())
    workdir = scratch / "checkout"
    workdir.mkdir()
    seconds, jobs = build(ROOT, workdir, args.targets, args.configfile, args.cores)
    runs = {
        f"recorded {folder.name} (commit {run['commit']}, {run['date']})": (
            float(run["wall_seconds"]),
            run.get("jobs"),
            recorded_rule_seconds(folder),
        ),
        "this checkout": (seconds, jobs, rule_seconds(workdir)),
    }
    for name, (wall, count, rules) in runs.items():
        print(f"{name}: {wall:.1f} s wall, {count} jobs")
        print_totals(rules)
    print("recorded tables against this build's:")
    for line in compare_recorded(folder, workdir, level=0.05):
        print("  " + line)
    if args.keep is None:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{float(run['wall_seconds']) / seconds:.2f}x")


def on_top(args: argparse.Namespace) -> None:
    """The targets built again in the kept folder ``args.on_top`` with ``args.configfile``:
    the added wall time, and the seconds of the jobs it ran (their benchmark files new or
    rewritten since it started)."""
    workdir = args.on_top.resolve()
    timed = workdir / "results" / "benchmarks"
    if not timed.is_dir():
        raise SystemExit(f"--on-top {workdir}: no results/benchmarks/, not a finished build")
    before = {p: p.stat().st_mtime_ns for p in timed.rglob("*.tsv")}
    seconds, jobs = build(ROOT, workdir, args.targets, args.configfile, args.cores)
    table = collect_benchmarks(timed)
    paths = [timed / r.rule / f"{r.wildcards}.tsv" for r in table.itertuples()]
    ran = table[[before.get(p) != p.stat().st_mtime_ns for p in paths]]
    settings = " ".join(args.configfile)
    print(f"on top of {workdir.name} with {settings}: {seconds:.1f} s wall, {jobs} jobs")
    print_totals(job_totals(ran))
    models = ran[ran["rule"].isin(FAMILY_RULES)]
    if not models.empty:
        parts = models["wildcards"].str.split("/")
        models = models.assign(family=parts.str[1], kind=parts.str[2].str.split("~").str[0])
        print("  the shared models' jobs by family and training set:")
        print_totals(job_totals(models, ["rule", "family", "kind"]), "    ", largest_first=False)
    print(f"+{seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
