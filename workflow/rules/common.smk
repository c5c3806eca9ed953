# Config validation and the small helpers that compute job inputs and params for several stages
# (a stage's own are in workflow/rules/<stage>_inputs.smk, included just before its rules).
#
# One path scheme for both tracks: results/<stage>/<dataset>/..., where the dataset's catalogue
# (`datasets` or `image_datasets`) says which track it is on. Rules that differ only by track are
# written once, with input functions that pick the track's files.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from diffshare.config import (
    SWEEP_VALUE,
    canonical,
    dataset_config,
    dataset_kind,
    image_dataset_config,
    image_pia_prompts,
    pia_property,
    sweep_value,
    track_section,
)
from diffshare.generators import registered_families
from diffshare.validation import check_config, cuda_visible

validate(config, schema="../schemas/config.schema.yaml")
# generator.plugins name `module:Class` importable from the working directory (or PYTHONPATH),
# here and in the jobs (below).
sys.path.insert(0, os.getcwd())
# Under --software-deployment-method conda (or apptainer) the jobs import their own torch.
check_config(config, local_torch=not workflow.deployment_settings.deployment_method)

ROOT = workflow.basedir
# The environment of every job under --software-deployment-method conda (envs/, CPU or CUDA).
CONDA_ENV = os.path.join(
    ROOT,
    "envs",
    "diffshare-cuda.yaml" if config["run"]["conda_env"] == "cuda" else "diffshare.yaml",
)
# Jobs import the library from this workflow's own src/ folder, so that a conda environment
# (which holds only its dependencies) and the rules always use the same diffshare code.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [os.path.join(ROOT, "src"), os.getcwd(), os.environ.get("PYTHONPATH")]
        )
    )
)
# Every generator family by name: built-in, installed entry points, generator.plugins.
FAMILIES = registered_families(config["generator"]["plugins"])
TABLE_GENERATORS = [name for name, f in FAMILIES.items() if f.modality == "table"]


def family_pattern(names):
    """A wildcard pattern matching exactly these family names ("(?!)": none)."""
    return "|".join(names) or "(?!)"


# Sample-only families (libraries that save by pickling) are trained and sampled in one job
# (train_sample_generator); the others are saved, then sampled (sample_generator).
SAMPLE_ONLY = family_pattern(
    [n for n in TABLE_GENERATORS if FAMILIES[n].persistence == "sample_only"]
)
SAVED_TABLE = family_pattern(
    [n for n in TABLE_GENERATORS if FAMILIES[n].persistence == "safe"]
)
SEEDS = config["run"]["seeds"]


def gpu_claim(wildcards):
    """The GPUs a generator job claims: a local profile's limit (one job per card), or a cluster
    executor's --gpus request. One where the job will use a GPU: generator.device names CUDA,
    or is auto and either this machine has a GPU or the jobs go to a cluster (whose nodes may
    have one where the submitting node has none). None on a local run without a GPU, so the
    CPU-bound generator jobs run side by side on the cores instead of one at a time."""
    device = config["generator"]["device"]
    if device == "cpu":
        return 0
    if device == "auto" and workflow.local_exec and not cuda_visible():
        return 0
    return 1


# Wildcard patterns of each track's dataset names, for the rules whose outputs are the track's
# own files (tables or image sets); "(?!)" matches nothing.
TABULAR = "|".join(config["datasets"]) or "(?!)"
IMAGES = "|".join(config.get("image_datasets") or {}) or "(?!)"
# The per-seed tables results/{fpa,pia}/{dataset}.csv: any name but one ending in _summary (the
# summaries over seeds beside them), so that a summary never resolves to a table of dataset
# "adult_summary"; an unknown name still reaches the catalogue, which names it in its error.
SEED_TABLE_DATASET = r"[A-Za-z0-9_]+(?<!_summary)"
# Saved data sets, by track: Parquet tables or .npz image sets.
SET = {"tabular": "parquet", "image": "npz"}


def kind(wildcards):
    """`tabular` or `image`: the track of the requested dataset; an unknown name stops the run."""
    return dataset_kind(config, wildcards.dataset)


def split_file(wildcards, split):
    """A prepared split (`train` or `test`) of the requested dataset, in its track's format."""
    return f"results/data/{wildcards.dataset}/{split}.{SET[kind(wildcards)]}"


def train_set(wildcards):
    return split_file(wildcards, "train")


def test_set(wildcards):
    return split_file(wildcards, "test")


# -- generators ----------------------------------------------------------------------------------


#: Subset folders of the PIA sets: the sharer's (`ratio~`) and the receiver's shadows'
#: (`shadow~`, drawn from the auxiliary data at a known share), trained and sampled alike.
PIA_SETS = ("ratio~", "shadow~")


def family_settings(family, subset):
    """The settings of a `family` model trained on `subset` (`full`, an FPA `attack~...` subset
    or a PIA `ratio~...` table): `generator.tabular` (with the FPA or PIA step count on their
    subsets), `generator.ctgan`, `generator.tvae`, `image.diffusion` (with `image.pia`'s step
    count on PIA sets, when it sets one) or `image.sngan`.
    """
    if family == "tabddpm":
        settings = dict(config["generator"]["tabular"])
        if subset.startswith(PIA_SETS):
            settings["steps"] = config["pia"]["generator_steps"]
        elif subset != "full":
            settings["steps"] = config["fpa"]["generator_steps"]
    elif FAMILIES[family].plugin:
        settings = config["generator"]["plugin_settings"].get(family, {})
    elif family in TABLE_GENERATORS:
        settings = config["generator"][family]
    elif family == "sngan":
        settings = config["image"]["sngan"]
    else:
        settings = dict(config["image"]["diffusion"])
        steps = config["image"]["pia"]["generator_steps"]
        if subset.startswith(PIA_SETS) and steps is not None:
            settings["steps"] = steps
    return canonical(settings)


def generator_plugins(wildcards):
    """The `generator.plugins` entry of the `{generator}` family, {} for the others: a job
    imports the class it names (entry points and built-ins it finds itself), and editing the
    entry of another family reruns nothing of this one."""
    plugins = config["generator"]["plugins"]
    name = wildcards.generator
    return {name: plugins[name]} if name in plugins else {}


# -- receivers -----------------------------------------------------------------------------------


def classifier_params(wildcards):
    return canonical(config["downstream"]["params"][wildcards.classifier])


def downstream_metrics(dataset, source, classifiers, seeds=SEEDS):
    """Metrics files of the classifiers and seeds for one training source."""
    return expand(
        "results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/metrics.json",
        dataset=dataset,
        source=source,
        classifier=classifiers,
        seed=seeds,
    )


# -- fairness poisoning --------------------------------------------------------------------------


def fpa_settings(wildcards):
    """The `fpa` (or `image.fpa`) section of the requested dataset."""
    return track_section(config, wildcards.dataset, "fpa")


def fpa_subsets(dataset):
    """Subset path segments of the sweep: the random reference, then each attack and alpha
    (written by sweep_value, which check_config made sure reads back exactly)."""
    fpa = track_section(config, dataset, "fpa")
    subsets = [f"attack~none/alpha~{sweep_value(0)}"]
    for attack in fpa["attacks"]:
        subsets += [
            f"attack~{attack}/alpha~{sweep_value(alpha)}" for alpha in fpa["alphas"]
        ]
    return subsets


def fpa_selections(wildcards):
    return expand(
        "results/subsets/{dataset}/{subset}/seed~{seed}/selection.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(wildcards.dataset),
        seed=SEEDS,
    )


# -- property inference --------------------------------------------------------------------------


def pia_settings(wildcards):
    """The `pia` (or `image.pia`) section of the requested dataset."""
    return track_section(config, wildcards.dataset, "pia")


def pia_seeds(dataset):
    """Seeds of the PIA runs of `dataset` (pia.seeds or image.pia.seeds; null: run.seeds)."""
    return track_section(config, dataset, "pia")["seeds"] or SEEDS


def generator_threads(wildcards):
    """Image models are convolutional networks (generator.threads); table models are small
    networks, fastest one thread per job side by side (generator.table_threads)."""
    key = "threads" if kind(wildcards) == "image" else "table_threads"
    return config["generator"][key]


# -- targets -------------------------------------------------------------------------------------


def default_targets():
    """Every table and figure of every dataset in run.datasets: baseline and utility for tables;
    FPA (with its summary) where the dataset has a sweep (images: a sensitive attribute), PIA
    (with its summary) where it has a property, the sample quality of image datasets, and the
    claims report of every dataset.
    """
    datasets = config["run"]["datasets"]
    tabular = [d for d in datasets if dataset_kind(config, d) == "tabular"]
    targets = expand(
        ["results/baseline/{dataset}.csv", "results/utility/{dataset}.csv"],
        dataset=tabular,
    )
    for stage, wanted in (("fpa", has_fpa), ("pia", has_pia)):
        targets += expand(
            [
                "results/{stage}/{dataset}.csv",
                "results/{stage}/{dataset}.png",
                "results/{stage}/{dataset}_summary.csv",
            ],
            stage=stage,
            dataset=[d for d in datasets if wanted(d)],
        )
    calibrated = [
        d
        for d in datasets
        if has_pia(d) and "calibrated" in track_section(config, d, "pia")["attacks"]
    ]
    targets += expand("results/pia/calibration/{dataset}.csv", dataset=calibrated)
    images = [d for d in datasets if dataset_kind(config, d) == "image"]
    targets += expand("results/quality/{dataset}.csv", dataset=images)
    return targets + expand("results/claims/{dataset}.csv", dataset=datasets)


def report_only():
    """Whether this command only writes a report (`--report` or `--reporter`, without
    `--report-after-run`): Snakemake then builds the report from the DAG of the targets without
    running anything, and stops at the first report file that is missing. (Snakemake tells a
    Snakefile nothing of the report, hence its command line.)"""
    args = sys.argv[1:]
    reporting = any(
        arg in ("--report", "--reporter")
        or arg.startswith(("--report=", "--reporter="))
        for arg in args
    )
    return reporting and "--report-after-run" not in args


def all_targets(wildcards):
    """The default target's inputs: every table and figure (default_targets), then
    results/benchmarks.csv. For a report without named targets, the tables and figures built
    so far, naming those left out; none built stops the report saying what to build or name.
    """
    targets = default_targets()
    if not report_only():
        return targets + ["results/benchmarks.csv"]
    built = [target for target in targets if os.path.exists(target)]
    if not built:
        first = targets[0] if targets else "<target>"
        raise WorkflowError(
            "nothing to report yet: none of the default targets of this config exists "
            f"({', '.join(targets)}); build them first (snakemake --cores 8), or build some "
            f"and name them, e.g. snakemake --cores 8 {first} then snakemake --report "
            f"results/report.html {first}"
        )
    missing = [target for target in targets if target not in built]
    if missing:
        logger.warning(
            "the report holds the default targets built so far; not built yet: "
            + ", ".join(missing)
        )
    return built


# -- claims --------------------------------------------------------------------------------------


def has_fpa(dataset):
    """Whether the dataset has a fairness poisoning sweep (images need a sensitive attribute;
    tables none when fpa.alphas is empty)."""
    if dataset_kind(config, dataset) == "image":
        return image_dataset_config(config, dataset).get("sensitive") is not None
    return bool(config["fpa"]["alphas"])


def has_pia(dataset):
    """Whether the dataset has a property to infer."""
    return dataset in track_section(config, dataset, "pia")["properties"]
