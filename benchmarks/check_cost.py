"""What one ``diffshare check`` costs, against ``diffshare audit`` on the same files.

    python benchmarks/check_cost.py [--samples 10000] [--aux 1000] [--reference 500]
        [--runs 3] [--workdir DIR]

The setting of a sharer checking its model before sharing it (issue 28's goal: at most two
minutes on two CPU cores): SDV's Gaussian copula (the ``gaussian_copula`` family; needs
``pip install -e ".[sdv]"``) is fitted on a 6,000-row Adult sharer table and draws ``--samples``
rows; the check is asked for two properties (sex=Female, race=White) with the receiver's
``--aux`` rows of the test split, the fairness audit against ``--reference`` other test rows,
closeness to the 6,000 training rows against 6,000 unseen training-split rows, and the
defenses; it writes the HTML page and the JSON record. The baseline is ``diffshare audit`` of
the same samples against the same reference, the one check the command line offered before.
Both are timed as whole commands (a user's wait: start-up and imports included), ``--runs``
times each, in turn, and the median is reported. Last line: ``<ratio>x``, check over audit.
Run it alone: a figure taken beside other work is not a figure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def build(folder: Path, n_samples: int, n_aux: int, n_reference: int) -> None:
    """The files of the check: samples, aux, reference, training and holdout (Parquet)."""
    from diffshare.attacks.pia.property import Property, sharer_rows
    from diffshare.data.tabular import DatasetSpec, prepare
    from diffshare.generators import make_generator

    catalogue = yaml.safe_load((ROOT / "config" / "datasets.yaml").read_text())["datasets"]
    train, test, schema = prepare(DatasetSpec.from_config("adult", catalogue["adult"], ROOT))
    rows, _ = sharer_rows(train, Property("sex", "Female"), ratio=0.3, size=6000, seed=0)
    training = train.iloc[rows]
    holdout = train.drop(index=training.index).sample(6000, random_state=0)
    model = make_generator("gaussian_copula", {}, seed=0).fit(training, schema)
    model.sample(n_samples, seed=1).to_parquet(folder / "samples.parquet")
    test.iloc[:n_aux].to_parquet(folder / "aux.parquet")
    test.iloc[n_aux : n_aux + n_reference].to_parquet(folder / "reference.parquet")
    training.to_parquet(folder / "training.parquet")
    holdout.to_parquet(folder / "holdout.parquet")


def timed(command: list[str], folder: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--aux", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="check_cost."))
    folder.mkdir(parents=True, exist_ok=True)
    build(folder, args.samples, args.aux, args.reference)
    diffshare = str(BIN / "diffshare")
    check = [
        diffshare, "check", "samples.parquet", "--property", "sex=Female",
        "--property", "race=White", "--aux", "aux.parquet", "--reference", "reference.parquet",
        "--label", "income", "--sensitive", "sex", "--training", "training.parquet",
        "--holdout", "holdout.parquet", "--html", "report.html", "--json", "report.json",
        "--quiet",
    ]  # fmt: skip
    audit = [
        diffshare, "audit", "samples.parquet", "--reference", "reference.parquet",
        "--label", "income", "--sensitive", "sex",
    ]  # fmt: skip
    times: dict[str, list[float]] = {"check": [], "audit": []}
    for _ in range(args.runs):
        times["check"].append(timed(check, folder))
        times["audit"].append(timed(audit, folder))
    for name, values in times.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name}: median {statistics.median(values):.1f} s over {len(values)} runs ({shown})")
    print(f"check budget: 120 s; files in {folder}")
    print(f"{statistics.median(times['check']) / statistics.median(times['audit']):.2f}x")


if __name__ == "__main__":
    main()
