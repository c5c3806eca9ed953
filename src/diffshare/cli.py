"""The ``diffshare`` command, for sharers, receivers and auditors outside the workflow.

- ``diffshare infer SAMPLES --property sex=Female [--aux AUX]``: property inference on a file of
  samples (a table, an ``.npz`` image set or a folder of images) or on samples drawn from a saved
  model (``--model DIR --family NAME --n N``; ``--family diffusers`` for a diffusers pipeline
  folder); one row per attack.
- ``diffshare check ...``: one report of a model's risks (property leakage, the fairness audit,
  record-level closeness, what the sharer's defenses would buy) as HTML, JSON or markdown.
- ``diffshare audit SAMPLES --reference REF --label income --sensitive sex``: the receiver's
  fairness audit (:func:`diffshare.defenses.audit.audit_samples`).
- ``diffshare families``: the generator families this installation knows, plugins included.

Every input is read through :mod:`diffshare.inputs`, so a missing, empty or corrupt file stops
the command with a message naming it (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diffshare.errors import ConfigError, DataError, DiffshareError
from diffshare.inputs import TABLE_SUFFIXES, binary_columns, is_table, read_images, read_table
from diffshare.storage import json_ready, write_csv, write_json

#: The samplers of our image diffusion families when a saved model is sampled from the command
#: line (the config's defaults, image.samplers).
IMAGE_SAMPLERS = {
    "ddpm": {"name": "dpmsolver++", "steps": 20},
    "edm": {"name": "dpmsolver++", "steps": 20},
}
#: The received-model kind that is not a sweep family: a diffusers pipeline folder.
DIFFUSERS = "diffusers"
INTERVAL_NOTE = (
    "ci_low and ci_high are a t interval over the repeats' disjoint query batches: the sampling "
    "noise of the estimate only, not the model's own distortion of the share nor the "
    "discriminator's bias; the calibrated rows (--calibrate) give a prediction interval that "
    "covers those too, fitted on shadow models of the family trained on the auxiliary data."
)


# -- progress ------------------------------------------------------------------------------------
class Progress:
    """Stage lines on stderr with the seconds since the start (``--quiet``: none), and a bar for
    sampling where the terminal shows one."""

    def __init__(self, command: str, quiet: bool = False) -> None:
        self.command, self.quiet, self.start = command, quiet, time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.start
            print(f"diffshare {self.command}: [{elapsed:6.1f} s] {message}", file=sys.stderr)

    def bar(self, total: int, what: str):
        """A callback ``(done, total)`` drawing a bar on a terminal; None otherwise."""
        if self.quiet or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        bar = tqdm(total=total, desc=what, unit="img", file=sys.stderr, leave=False)

        def update(done: int, _total: int) -> None:
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return update


# -- inputs --------------------------------------------------------------------------------------
def parse_plugins(entries: Sequence[str] | None) -> dict[str, str]:
    """``--plugin NAME=module:Class`` options as the config's ``generator.plugins``."""
    plugins = {}
    for entry in entries or []:
        name, sep, spec = entry.partition("=")
        if not sep or not name or ":" not in spec:
            raise ConfigError(f"--plugin {entry!r} must be NAME=module:Class")
        plugins[name] = spec
    return plugins


def read_samples(path: str, what: str = "samples") -> pd.DataFrame | Any:
    """A table (CSV or Parquet) or an image set (``.npz`` or a folder), by the path's kind."""
    if is_table(path):
        return read_table(path, what)
    if Path(path).is_file() and Path(path).suffix.lower() != ".npz":
        raise DataError(
            f"{what} {path}: give a table ({', '.join(TABLE_SUFFIXES)}), an image set (.npz) or "
            f"a folder of images, not {Path(path).suffix or 'a file without a suffix'!r}"
        )
    return read_images(path, what)


def draw_samples(args: argparse.Namespace, progress: Progress) -> pd.DataFrame | Any:
    """``--n`` samples of the saved model ``--model`` of family ``--family`` (a diffusers
    pipeline folder for ``diffusers``), with ``--seed``."""
    if args.n is None or args.n < 1:
        raise ConfigError(f"--model needs --n, the number of samples to draw (got {args.n})")
    if not args.family:
        raise ConfigError("--model needs --family: the model's family (see diffshare families)")
    folder = Path(args.model)
    if not folder.is_dir():
        raise DataError(f"model folder {folder}: no such folder")
    progress(f"drawing {args.n} samples from {folder} ({args.family})")
    if args.family == DIFFUSERS:
        from diffshare.generators.diffusers_pipeline import load_pipeline

        pipeline = load_pipeline(folder, device=args.device)
        return pipeline.sample(args.n, seed=args.seed, progress=progress.bar(args.n, "sampling"))
    from diffshare.generators import generator_family, load_generator

    family = generator_family(args.family, parse_plugins(args.plugin))
    model = load_generator(
        folder, args.family, device=args.device, plugins=parse_plugins(args.plugin)
    )
    if family.modality == "table":
        return model.sample(args.n, seed=args.seed)
    from diffshare.generators.image_sampling import sample_images

    images, _ = sample_images(
        model, args.n, conditional=False, samplers=IMAGE_SAMPLERS, seed=args.seed
    )
    return images


def samples_and_inputs(args: argparse.Namespace, progress: Progress) -> tuple[Any, dict[str, Any]]:
    """The samples (a file, or drawn from ``--model``) and the inputs record."""
    if (args.samples is None) == (args.model is None):
        raise ConfigError("give either SAMPLES (a file or folder) or --model DIR, not both")
    if args.samples is not None:
        progress(f"reading {args.samples}")
        samples = read_samples(args.samples)
    else:
        samples = draw_samples(args, progress)
    inputs = {"samples": args.samples, "model": args.model, "family": args.family}
    return samples, inputs


def read_auxiliary(path: str | None, samples: Any) -> Any:
    """The receiver's auxiliary data, of the samples' kind."""
    if path is None:
        return None
    return (
        read_table(path, "auxiliary table")
        if isinstance(samples, pd.DataFrame)
        else (read_images(path, "auxiliary images"))
    )


# -- the commands --------------------------------------------------------------------------------
def run_audit(args: argparse.Namespace) -> dict:
    from diffshare.defenses.audit import DEFAULT_C2ST, audit_samples, check_train_rows

    train_rows = None
    if args.train_rows is not None:
        train_rows = check_train_rows(args.train_rows.strip(), "--train-rows")
    if not (args.tolerance >= 0):  # NaN too
        raise ConfigError(f"--tolerance must be a number >= 0, got {args.tolerance}")
    samples = read_table(args.samples, "samples")
    reference = read_table(args.reference, "reference")
    tables = {f"samples {args.samples}": samples, f"reference {args.reference}": reference}
    y = binary_columns(tables, args.label, args.positive, "label")
    s = binary_columns(tables, args.sensitive, args.privileged, "sensitive")
    (y_samples, y_reference), (s_samples, s_reference) = y.values(), s.values()
    return audit_samples(
        samples,
        reference,
        s_samples=s_samples,
        y_samples=y_samples,
        s_reference=s_reference,
        y_reference=y_reference,
        train_rows=train_rows,
        level=args.level,
        tests=args.tests,
        tolerance=args.tolerance,
        n_bootstrap=args.bootstrap,
        classifier=DEFAULT_C2ST,
        seed=args.seed,
    )


def audit_notes(record: dict, level: float) -> list[str]:
    """What the audit's verdict and its separate distribution signal mean, and what was
    assumed, as lines printed under the record."""
    verdict = "FLAGGED" if record["flagged"] else "not flagged"
    lines = [
        f"verdict: {verdict} (one-sided association test at level {level:g}: is the samples' "
        "|demographic-parity gap| above the reference's by more than an honest model's "
        "sampling noise?)"
    ]
    if record["distribution_shift"] is not None:
        shift = "yes" if record["distribution_shift"] else "no"
        lines.append(
            f"distribution_shift: {shift} (two-sample test at level {level:g}; not a verdict: "
            "an honest but imperfect generator shows it too)"
        )
    if record["train_rows_assumed"]:
        lines.append(
            f"train_rows: assumed {record['train_rows']} (the smaller of the samples' and the "
            "reference's rows; give --train-rows N, the rows the model was trained on)"
        )
    return lines


def run_infer(args: argparse.Namespace) -> pd.DataFrame:
    from diffshare.inference import infer_property, parse_property, summarize

    progress = Progress("infer", args.quiet)
    prop = parse_property(args.property)
    samples, _ = samples_and_inputs(args, progress)
    auxiliary = read_auxiliary(args.aux, samples)
    progress(f"estimating the share of {args.property} in {len(samples)} samples")
    estimates, record = infer_property(
        samples,
        prop,
        auxiliary=auxiliary,
        attacks=args.attacks,
        queries=args.queries,
        repeats=args.repeats,
        seed=args.seed,
        classifier=args.classifier,
        holdout=args.holdout,
        device=args.device,
    )
    rows = summarize(estimates, record, prop, delta=args.delta, true_share=args.true_share)
    if not args.calibrate:
        return rows
    calibrated = run_calibration(args, estimates, prop, samples, auxiliary, progress)
    if args.true_share is not None:
        calibrated["true_share"] = args.true_share
        calibrated["abs_error"] = (calibrated["estimate"] - args.true_share).abs()
    return pd.concat([rows, calibrated], ignore_index=True)


def calibration_families(names: Sequence[str]) -> list[str]:
    """``--calibrate`` names: table families, or ``all`` for every registered one."""
    from diffshare.generators import registered_families

    families = {n: f for n, f in registered_families().items() if f.modality == "table"}
    chosen = list(families) if list(names) == ["all"] else list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in families]
    if unknown:
        raise ConfigError(
            f"--calibrate {unknown}: not a table family; choose from {list(families)} or all"
        )
    return chosen


def run_calibration(args, estimates, prop, samples, auxiliary, progress) -> pd.DataFrame:
    """The calibrated rows of ``diffshare infer`` and ``diffshare check`` (--calibrate)."""
    from diffshare.inference import calibrate_inference

    if not isinstance(samples, pd.DataFrame):
        raise ConfigError(
            "--calibrate trains table families on the auxiliary rows; for images run the "
            "workflow's calibrated attack (image.pia.attacks)"
        )
    if auxiliary is None or not args.label:
        raise ConfigError("--calibrate needs --aux (the shadows' training rows) and --label")
    families = calibration_families(args.calibrate)
    progress(f"calibrating on {', '.join(families)}: {len(args.shares)} shadow models each")
    return calibrate_inference(
        estimates, prop, auxiliary, families=families, label=args.label, shares=args.shares,
        queries=args.queries, repeats=args.repeats, seed=args.seed, delta=args.delta,
        max_rows=args.shadow_rows, progress=progress,
    )  # fmt: skip


def parse_true_shares(entries: Sequence[str] | None) -> dict[str, float]:
    """``--true-share column=value:share`` options."""
    shares = {}
    for entry in entries or []:
        name, sep, share = entry.rpartition(":")
        try:
            value = float(share)
        except ValueError:
            value = None
        if not sep or "=" not in name or value is None or not 0 <= value <= 1:
            raise ConfigError(f"--true-share {entry!r} must be COLUMN=VALUE:SHARE, share in [0, 1]")
        shares[name] = value
    return shares


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    from diffshare.inference import parse_property
    from diffshare.risk import CheckSettings, check_risks

    progress = Progress("check", args.quiet)
    properties = [parse_property(text) for text in args.property]
    true_shares = parse_true_shares(args.true_share)
    unknown = sorted(set(true_shares) - {f"{p.column}={p.value}" for p in properties})
    if unknown:
        raise ConfigError(f"--true-share names properties not given with --property: {unknown}")
    samples, inputs = samples_and_inputs(args, progress)
    auxiliary = read_auxiliary(args.aux, samples)
    tables = {}
    for role in ("reference", "training", "holdout"):
        path = getattr(args, role)
        tables[role] = read_table(path, role) if path else None
        inputs[role] = path
    inputs["aux"] = args.aux
    return check_risks(
        samples,
        properties,
        inputs=inputs,
        auxiliary=auxiliary,
        reference=tables["reference"],
        label=args.label,
        sensitive=args.sensitive,
        positive=args.positive,
        privileged=args.privileged,
        training=tables["training"],
        holdout=tables["holdout"],
        true_shares=true_shares,
        settings=CheckSettings(
            queries=args.queries,
            repeats=args.repeats,
            seed=args.seed,
            classifier=args.classifier,
            level=args.level,
            decoy=args.decoy,
            device=args.device,
            calibrate=tuple(calibration_families(args.calibrate or [])),
            label=args.label,
            shares=tuple(args.shares),
            shadow_rows=args.shadow_rows,
        ),
        progress=progress,
    )


def run_families(args: argparse.Namespace) -> pd.DataFrame:
    from diffshare.generators import registered_families

    families = registered_families(parse_plugins(args.plugin))
    return pd.DataFrame(
        [
            {
                "family": name,
                "modality": family.modality,
                "diffusion": family.diffusion,
                "persistence": family.persistence,
                "class": family.spec,
                "source": family.source,
            }
            for name, family in families.items()
        ]
    )


# -- the parser ----------------------------------------------------------------------------------
def _sample_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "samples",
        nargs="?",
        help="the samples: a table (.csv, .parquet), an image set (.npz) or a folder of images",
    )
    group = parser.add_argument_group("samples drawn from a saved model (instead of SAMPLES)")
    group.add_argument("--model", metavar="DIR", help="a saved model folder")
    group.add_argument(
        "--family",
        help=f"its family: one of `diffshare families`, or {DIFFUSERS!r} for a diffusers "
        "pipeline folder (loaded from safetensors only)",
    )
    group.add_argument("--n", type=int, metavar="N", help="samples to draw")
    group.add_argument(
        "--plugin",
        action="append",
        metavar="NAME=module:Class",
        help="a plugin family not installed by entry point (repeatable)",
    )
    group.add_argument("--device", default="auto", help="auto, cpu or cuda (auto)")


def _calibration_options(parser: argparse.ArgumentParser, label: bool = True) -> None:
    group = parser.add_argument_group(
        "calibration",
        "shadow models of a family trained on the auxiliary table at known shares turn the raw "
        "estimate into a calibrated one with a 1 - delta prediction interval; each family costs "
        "one trained model per share (tabddpm about a minute each on two CPU cores, CTGAN "
        "several), and the rows report the seconds spent",
    )
    group.add_argument(
        "--calibrate",
        nargs="+",
        metavar="FAMILY",
        help="families to calibrate on (tabddpm, ctgan, tvae, ...; all: every table family, "
        "and a last row spanning them, for a model whose family is unknown)",
    )
    if label:  # check has --label already (the audit's), the same column
        group.add_argument("--label", help="the label column the shared model was trained with")
    group.add_argument(
        "--shares",
        nargs="+",
        type=float,
        default=[0.05, 0.25, 0.5, 0.75, 0.95],
        help="the shadows' shares (at least three; default 0.05 0.25 0.5 0.75 0.95)",
    )
    group.add_argument(
        "--shadow-rows",
        type=_positive_int,
        help="cap on each shadow's rows (default: as many as the auxiliary table allows)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _estimate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries", type=int, default=1000, help="samples per estimate (1000)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=10,
        help="estimates from disjoint batches of QUERIES samples, for the interval (10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (0)")
    parser.add_argument(
        "--classifier",
        help="the property discriminator: hgb (default for tables), logreg, mlp; cnn (images)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def build_parser() -> argparse.ArgumentParser:
    """The `diffshare` command's parser (docs/reference/cli.md is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="diffshare",
        description="Privacy and fairness risks of sharing generative models (diffshare).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    infer = commands.add_parser(
        "infer",
        help="estimate a private share of the data behind a model's samples",
        description=(
            "Property inference: estimate the share of rows with a property (COLUMN=VALUE) in "
            "the data a model was trained on, from its samples. Attacks: column (read the "
            "samples' own column), aux (a discriminator trained on the receiver's labelled "
            "auxiliary data, --aux), aux_corrected (aux corrected with its held-out TPR and "
            "FPR). One output row per attack: the mean estimate over REPEATS disjoint batches "
            "of QUERIES samples, " + INTERVAL_NOTE + " hoeffding_eps is Hoeffding's bound for "
            "QUERIES samples at --delta, which holds only for an unbiased discriminator on "
            "samples that follow the training data."
        ),
        epilog="example: diffshare infer samples.csv --property sex=Female --aux aux.csv",
    )
    _sample_options(infer)
    infer.add_argument("--property", required=True, help="COLUMN=VALUE, e.g. sex=Female")
    infer.add_argument("--aux", help="the receiver's labelled auxiliary data (needed for images)")
    infer.add_argument(
        "--attacks",
        nargs="+",
        choices=("column", "aux", "aux_corrected"),
        help="attacks to run (default: every one the inputs allow)",
    )
    _estimate_options(infer)
    infer.add_argument(
        "--holdout",
        type=float,
        default=0.5,
        help="share of AUX held out to rate the discriminator (0.5)",
    )
    infer.add_argument(
        "--true-share", type=float, help="the true share, where known: adds abs_error"
    )
    infer.add_argument("--delta", type=float, default=0.05, help="Hoeffding's confidence (0.05)")
    _calibration_options(infer)
    infer.add_argument("--output", help="write the rows to this .csv or .json file")

    check = commands.add_parser(
        "check",
        help="one report of what a model or its samples leak, and whether it was poisoned",
        description=(
            "One report of a shared model's risks: the property leakage of every --property "
            "(as diffshare infer), the fairness audit against trusted --reference rows (as "
            "diffshare audit), record-level closeness to the sharer's --training rows against "
            "unseen --holdout rows, and what decoy sampling and rebalancing would buy. Sections "
            "whose inputs are missing say what to give. Writes a self-contained HTML page "
            "(--html), a JSON record (--json), and prints a summary (--format text) or the "
            "whole report as markdown (--format md). " + INTERVAL_NOTE
        ),
        epilog=(
            "example: diffshare check samples.parquet --property sex=Female --aux aux.csv "
            "--reference ref.csv --label income --sensitive sex --html report.html"
        ),
    )
    _sample_options(check)
    check.add_argument(
        "--property", action="append", required=True, help="COLUMN=VALUE (repeatable)"
    )
    check.add_argument("--aux", help="the receiver's labelled auxiliary data")
    check.add_argument("--reference", help="trusted real rows for the fairness audit")
    check.add_argument("--label", help="the binary label column (audit, rebalancing)")
    check.add_argument("--sensitive", help="the binary sensitive column (audit)")
    check.add_argument("--positive", help="the label's positive value (default: the larger)")
    check.add_argument("--privileged", help="the privileged sensitive value (default: the larger)")
    check.add_argument("--training", help="the sharer's training rows (closeness, rebalancing)")
    check.add_argument("--holdout", help="real rows the model never saw (closeness)")
    check.add_argument(
        "--true-share",
        action="append",
        metavar="COLUMN=VALUE:SHARE",
        help="the true share of a property, where the sharer knows it (repeatable)",
    )
    check.add_argument("--decoy", type=float, default=0.5, help="the defenses' decoy share (0.5)")
    check.add_argument("--level", type=float, default=0.05, help="tests' level (0.05)")
    _estimate_options(check)
    _calibration_options(check, label=False)
    check.add_argument("--html", help="write the report page here")
    check.add_argument("--json", help="write the record here")
    check.add_argument(
        "--format", choices=("text", "md"), default="text", help="what to print (text)"
    )

    audit = commands.add_parser(
        "audit",
        help="audit a shared model's samples against trusted real rows",
        description=(
            "Audit a shared model's samples against a trusted reference of real rows: I(S;Y) and "
            "the label's demographic-parity gap with bootstrap intervals, a one-sided test that "
            "the samples' gap exceeds in magnitude what an honest model trained on TRAIN_ROWS "
            "rows would show (sampling noise of the reference, the samples and the training "
            "rows), and a classifier two-sample test of the whole table. FLAGGED when the "
            "association test's p-value is at most LEVEL. The two-sample test is reported as "
            "distribution_shift and never flags: every imperfect generator's samples differ "
            "from real rows, poisoned or not."
        ),
    )
    from diffshare.defenses.audit import TESTS

    audit.add_argument("samples", help="the samples (.parquet or .csv)")
    audit.add_argument("--reference", required=True, help="trusted real rows (.parquet or .csv)")
    audit.add_argument("--label", required=True, help="the binary label column")
    audit.add_argument("--sensitive", required=True, help="the binary sensitive column")
    audit.add_argument(
        "--positive", help="the label's positive value (default: the larger, sorted as text)"
    )
    audit.add_argument(
        "--privileged",
        help="the sensitive column's privileged value (default: the larger, sorted as text)",
    )
    audit.add_argument(
        "--train-rows",
        metavar="N",
        help=(
            "rows the shared model was trained on (default: assumed as few as the smaller of "
            "the samples and the reference, which widens the test; the output says so)"
        ),
    )
    audit.add_argument("--level", type=float, default=0.05, help="false-alarm rate (0.05)")
    audit.add_argument(
        "--tests",
        nargs="+",
        choices=TESTS,
        default=list(TESTS),
        help="tests to run (both; association is required, distribution is optional)",
    )
    audit.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="rise of the gap's magnitude accepted from an honest model (0)",
    )
    audit.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws (1000)")
    audit.add_argument("--seed", type=int, default=0, help="seed of every random draw (0)")
    audit.add_argument("--output", help="write the record to this .json or .csv file")

    families = commands.add_parser(
        "families",
        help="list the generator families, plugins included",
        description=(
            "The generator families by name: built-in, installed by an entry point of group "
            "diffshare.generators, or given with --plugin; their modality, whether the claims "
            "count them as diffusion models, and how they persist (safe: saved as safetensors "
            "and JSON; sample_only: trained and sampled in one job, never saved)."
        ),
    )
    families.add_argument(
        "--plugin",
        action="append",
        metavar="NAME=module:Class",
        help="a plugin family not installed by entry point (repeatable)",
    )
    return parser


def _write_rows(table: pd.DataFrame, path: str) -> None:
    if path.lower().endswith(".json"):
        write_json(json_ready(table.to_dict("records")), path)
    elif path.lower().endswith(".csv"):
        write_csv(table, path)
    else:
        raise ConfigError(f"--output {path!r}: write a .csv or a .json file")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "audit":
            record = run_audit(args)
            if args.output:
                if args.output.lower().endswith(".csv"):
                    write_csv(pd.DataFrame([record]), args.output)
                else:
                    write_json(json_ready(record), args.output)
            width = max(map(len, record))
            for key, value in record.items():
                shown = (
                    f"{value:.4g}" if isinstance(value, float) else json.dumps(json_ready(value))
                )
                print(f"{key:<{width}}  {shown}")
            for line in audit_notes(record, args.level):
                print(line)
        elif args.command == "infer":
            if args.output:  # a bad name fails before minutes of work
                _check_output(args.output, (".csv", ".json"))
            table = run_infer(args)
            if args.output:
                _write_rows(table, args.output)
            shown = table.astype(dict.fromkeys(("true_share", "abs_error", "tpr", "fpr"), float))
            print(shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4f}"))
        elif args.command == "check":
            _check_output(args.html, (".html", ".htm"))
            _check_output(args.json, (".json",))
            record = run_check(args)
            from diffshare.reporting.risk_report import render_markdown, write_report

            write_report(record, html_path=args.html, json_path=args.json)
            if args.format == "md":
                print(render_markdown(record))
            else:
                for line in record["summary"]:
                    print(f"[{line['severity']:>6}] {line['risk']}: {line['finding']}")
                for where in (args.html, args.json):
                    if where:
                        print(f"wrote {where}", file=sys.stderr)
        else:
            print(run_families(args).to_string(index=False))
    except DiffshareError as error:
        print(f"diffshare {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def _check_output(path: str | None, suffixes: tuple[str, ...]) -> None:
    """:class:`ConfigError` unless ``path`` (when given) ends in one of ``suffixes``; called
    inside :func:`main`'s ``try``, so it returns 2 as every other error does."""
    if path is not None and not path.lower().endswith(suffixes):
        raise ConfigError(f"{path!r}: the file name must end in {' or '.join(suffixes)}")


if __name__ == "__main__":
    sys.exit(main())
