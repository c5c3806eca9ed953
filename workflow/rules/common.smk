# Config validation and the small helpers that compute job inputs and params.
#
# One path scheme for both tracks: results/<stage>/<dataset>/..., where the dataset's catalogue
# (`datasets` or `image_datasets`) says which track it is on. Rules that differ only by track are
# written once, with input functions here that pick the track's files.
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
IMAGE_GENERATORS = [name for name, f in FAMILIES.items() if f.modality == "image"]


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
CLASSIFIERS = config["downstream"]["classifiers"]


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


# -- data ----------------------------------------------------------------------------------------


def dataset_entry(wildcards):
    """The catalogue entry of the requested dataset; an unknown name stops the run."""
    if kind(wildcards) == "image":
        return image_dataset_config(config, wildcards.dataset)
    return dataset_config(config, wildcards.dataset)


def dataset_params(wildcards):
    """The dataset entry as `prepare` params: canonical, without the free-text description."""
    entry = dataset_entry(wildcards)
    entry.pop("description", None)  # editing prose must not rerun anything
    return canonical(entry)


def raw_files(wildcards):
    """The raw files of a dataset, so that replacing one reruns its preparation (an image
    dataset read from a folder has none). A catalogue path relative to the workflow's root is
    given relative to the working directory, so that a checkout moved or copied with its
    results/ keeps the same inputs and reruns nothing; an absolute path stays as it is. (The
    scripts resolve the catalogue's paths at run time, from their own location.)"""
    entry = dataset_entry(wildcards)
    if kind(wildcards) == "image":
        files = (
            [entry["file"]] if entry.get("folder") is None and entry.get("file") else []
        )
    else:
        files = entry["files"].values()
    return [
        (
            item["path"]
            if os.path.isabs(item["path"])
            else os.path.relpath(os.path.join(ROOT, item["path"]))
        )
        for item in files
    ]


# -- generators ----------------------------------------------------------------------------------


#: Subset folders of the PIA sets: the sharer's (`ratio~`) and the receiver's shadows'
#: (`shadow~`, drawn from the auxiliary data at a known share), trained and sampled alike.
PIA_SETS = ("ratio~", "shadow~")


def subset_files(wildcards):
    """The sharer's data a shared model is trained on, with what its track needs beside it:
    `full` is the whole training split, `attack~<attack>/alpha~<alpha>` a subset chosen by
    `select_subset`, `ratio~<ratio>` a set at an exact property ratio (`sharer_set`). A PIA
    table comes with its own schema (it may leave the property column out); image sets with the
    dataset's summary (the number of classes)."""
    data = f"results/data/{wildcards.dataset}"
    folder = (
        f"results/subsets/{wildcards.dataset}/{wildcards.subset}/seed~{wildcards.seed}"
    )
    if kind(wildcards) == "image":
        train = (
            f"{folder}/images.npz"
            if wildcards.subset != "full"
            else f"{data}/train.npz"
        )
        return {"train": train, "summary": f"{data}/summary.json"}
    if wildcards.subset == "full":
        return {"train": f"{data}/train.parquet", "schema": f"{data}/schema.json"}
    schema = f"{folder}/schema.json" if wildcards.subset.startswith(PIA_SETS) else None
    return {
        "train": f"{folder}/table.parquet",
        "schema": schema or f"{data}/schema.json",
    }


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


def generator_settings(wildcards):
    """The settings of the `{generator}` family on its `{subset}` (family_settings)."""
    return family_settings(wildcards.generator, wildcards.subset)


def generator_plugins(wildcards):
    """The `generator.plugins` entry of the `{generator}` family, {} for the others: a job
    imports the class it names (entry points and built-ins it finds itself), and editing the
    entry of another family reruns nothing of this one."""
    plugins = config["generator"]["plugins"]
    name = wildcards.generator
    return {name: plugins[name]} if name in plugins else {}


def generator_resources(wildcards):
    """Runtime (minutes) and memory (MB) of a generator job by its family's modality."""
    return (240, 16000) if wildcards.generator in IMAGE_GENERATORS else (120, 8000)


def n_synthetic(wildcards):
    """Rows the receiver draws from a table model: for PIA, one disjoint batch per repeat of
    the largest query."""
    if wildcards.subset.startswith(PIA_SETS):
        return max(config["pia"]["queries"]) * config["pia"]["repeats"]
    return config["generator"]["n_synthetic"]


def image_sampling_params(wildcards):
    """PIA sets (ratio~) are sampled unconditionally, one disjoint batch per repeat of the
    largest query; FPA subsets conditionally, balanced over y."""
    image = config["image"]
    if wildcards.subset.startswith(PIA_SETS):
        n = max(image["pia"]["queries"]) * image["pia"]["repeats"]
        conditional = False
    else:
        n, conditional = image["fpa"]["n_synthetic"], True
    return canonical(
        {"n": n, "conditional": conditional, "samplers": image["samplers"]}
    )


# -- receivers -----------------------------------------------------------------------------------


def receiver_training_set(wildcards):
    """The set a receiver is trained on, by its `source` path segment: `real` (the sharer's
    training split) or `synthetic/<subset>` (samples of the shared diffusion model trained on
    that subset with the same seed: fpa.generator, or image.fpa.generator)."""
    if wildcards.source == "real":
        return train_set(wildcards)
    subset = wildcards.source.removeprefix("synthetic/")
    image = kind(wildcards) == "image"
    generator = (
        config["image"]["fpa"]["generator"] if image else config["fpa"]["generator"]
    )
    folder = f"results/samples/{wildcards.dataset}/{generator}/{subset}/seed~{wildcards.seed}"
    return f"{folder}/samples.{'npz' if image else 'parquet'}"


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


def baseline_metrics(wildcards):
    dataset_config(config, wildcards.dataset)  # an unknown dataset stops the run, named
    return downstream_metrics(wildcards.dataset, "real", CLASSIFIERS)


def utility_synthetic_metrics(wildcards):
    dataset_config(config, wildcards.dataset)
    return downstream_metrics(wildcards.dataset, "synthetic/full", CLASSIFIERS)


def utility_fidelity(wildcards):
    return expand(
        "results/samples/{dataset}/{generator}/full/seed~{seed}/fidelity.json",
        dataset=wildcards.dataset,
        generator=config["fpa"]["generator"],
        seed=SEEDS,
    )


# -- fairness poisoning --------------------------------------------------------------------------


def mine_inputs(wildcards):
    """MINE's pool: a table with its schema, or images with their features."""
    if kind(wildcards) == "image":
        features = (
            f"results/features/{wildcards.dataset}/seed~{wildcards.seed}/train.parquet"
        )
        return {"train": train_set(wildcards), "features": features}
    return {
        "train": train_set(wildcards),
        "schema": f"results/data/{wildcards.dataset}/schema.json",
    }


def fpa_settings(wildcards):
    """The `fpa` (or `image.fpa`) section of the requested dataset."""
    return track_section(config, wildcards.dataset, "fpa")


def mine_params(wildcards):
    return canonical(fpa_settings(wildcards)["mine"])


def selection_params(wildcards):
    fpa = fpa_settings(wildcards)
    keys = ("subset_size", "tolerance", "candidates_per_cell")
    return canonical({key: fpa[key] for key in keys})


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


def fpa_metrics(wildcards):
    """Every receiver of the sweep: fpa.classifiers on tables, the CNN on images (whose
    dataset needs a sensitive attribute)."""
    if kind(wildcards) == "image":
        if image_dataset_config(config, wildcards.dataset).get("sensitive") is None:
            raise ValueError(
                f"fairness poisoning on {wildcards.dataset!r} needs a sensitive attribute: "
                f"set image_datasets.{wildcards.dataset}.sensitive"
            )
        classifiers = ["cnn"]
    else:
        classifiers = config["fpa"]["classifiers"]
    sources = [f"synthetic/{subset}" for subset in fpa_subsets(wildcards.dataset)]
    return downstream_metrics(wildcards.dataset, sources, classifiers)


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


def pia_delta(wildcards):
    """Confidence of the Hoeffding bound for `dataset` (pia.delta or image.pia.delta)."""
    return pia_settings(wildcards)["delta"]


def sharer_params(wildcards):
    """The property of the dataset, the sharer's set size and whether it hides the property
    (tables only: image sets keep every attribute)."""
    pia = pia_settings(wildcards)
    return canonical(
        {
            "property": pia_property(config, wildcards.dataset),
            "hide_property": pia.get("hide_property", False),
            "subset_size": pia["subset_size"],
        }
    )


def shadow_params(wildcards):
    """As sharer_params, with the shadow shares: every shadow set of a dataset has one size, the
    largest its auxiliary data supplies at every share (at most the sharer's)."""
    return canonical(
        {
            **sharer_params(wildcards),
            "shares": pia_settings(wildcards)["calibration"]["shares"],
        }
    )


def estimate_inputs(wildcards, subset=None):
    """One model's samples, its set's record (the sharer's `ratio~` set, or a shadow's), and the
    receiver's auxiliary data (the test split, disjoint from the pool) with, for tables, the
    schema."""
    subset = subset or f"ratio~{wildcards.ratio}"
    tail = f"{subset}/seed~{wildcards.seed}"
    inputs = {
        "samples": f"results/samples/{wildcards.dataset}/{wildcards.generator}/{tail}/samples.{SET[kind(wildcards)]}",
        "subset": f"results/subsets/{wildcards.dataset}/{tail}/subset.json",
        "auxiliary": test_set(wildcards),
    }
    if kind(wildcards) == "tabular":
        inputs["schema"] = f"results/data/{wildcards.dataset}/schema.json"
    return inputs


def generator_threads(wildcards):
    """Image models are convolutional networks (generator.threads); table models are small
    networks, fastest one thread per job side by side (generator.table_threads)."""
    key = "threads" if kind(wildcards) == "image" else "table_threads"
    return config["generator"][key]


def estimate_threads(wildcards):
    """Image discriminators are torch networks (generator.threads); a table's is one
    scikit-learn classifier."""
    return config["generator"]["threads"] if kind(wildcards) == "image" else 1


def estimate_params(wildcards):
    """The params of `estimate_property`, alike for both tracks: the property, the attacks,
    query counts and repeats, and the discriminator {classifier, params, holdout}. A table's
    discriminator is a downstream classifier with its downstream.params; an image's is the CNN or
    logistic regression on CLIP features (image.pia.discriminator; `auto` picks the latter when
    image.features.clip names weights, which zero_shot also reads with the dataset's prompts).
    """
    pia = pia_settings(wildcards)
    settings = {key: pia[key] for key in ("attacks", "queries", "repeats")}
    # The calibrated attack is the pia table's, from these estimates and the shadows'.
    settings["attacks"] = [a for a in pia["attacks"] if a != "calibrated"]
    settings["property"] = pia_property(config, wildcards.dataset)
    if kind(wildcards) == "tabular":
        classifier = pia["discriminator"]["classifier"]
        params = config["downstream"]["params"][classifier]
    else:
        clip = config["image"]["features"]["clip"]
        classifier = pia["discriminator"]["classifier"]
        if classifier == "auto":
            classifier = "clip_logreg" if clip else "cnn"
        params = pia["discriminator"][classifier]
        settings.update(clip=clip, prompts=image_pia_prompts(config, wildcards.dataset))
    holdout = pia["discriminator"]["holdout"]
    settings["discriminator"] = {
        "classifier": classifier,
        "params": params,
        "holdout": holdout,
    }
    return canonical(settings)


def pia_estimates(wildcards):
    # An unknown dataset, then a dataset without a property, stops the run naming it.
    pia_property(config, wildcards.dataset)
    pia = pia_settings(wildcards)
    return expand(
        "results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        dataset=wildcards.dataset,
        generator=pia["generators"],
        ratio=[sweep_value(ratio) for ratio in pia["ratios"]],
        seed=pia_seeds(wildcards.dataset),
    )


def shadow_estimate_inputs(wildcards):
    """As estimate_inputs, for a shadow model's samples."""
    return estimate_inputs(wildcards, f"shadow~{wildcards.share}")


def calibration_inputs(wildcards):
    """The shadow models' estimates and sets, one per share of the calibration grid."""
    shares = [sweep_value(s) for s in pia_settings(wildcards)["calibration"]["shares"]]
    folder = f"{wildcards.dataset}/{wildcards.generator}"
    return {
        "estimates": expand(
            f"results/pia/estimates/{folder}/shadow~{{share}}/seed~{wildcards.seed}/estimates.parquet",
            share=shares,
        ),
        "subsets": expand(
            f"results/subsets/{wildcards.dataset}/shadow~{{share}}/seed~{wildcards.seed}/subset.json",
            share=shares,
        ),
    }


def calibration_attack(wildcards):
    """The raw attack the calibration maps (pia.calibration.attack)."""
    return pia_settings(wildcards)["calibration"]["attack"]


def pia_calibrations(wildcards):
    """The calibration of every family and seed of the PIA sweep, when it lists `calibrated`."""
    pia = pia_settings(wildcards)
    if "calibrated" not in pia["attacks"]:
        return []
    return expand(
        "results/pia/calibration/{dataset}/{generator}/seed~{seed}.json",
        dataset=wildcards.dataset,
        generator=pia["generators"],
        seed=pia_seeds(wildcards.dataset),
    )


def pia_reference(wildcards):
    """The generator the PIA log compares the others against: the first one listed."""
    return pia_settings(wildcards)["generators"][0]


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


def claims_inputs(wildcards):
    """The tables a dataset's claims are tested on: its FPA table and selection records, and
    its PIA table, where it has them."""
    dataset = wildcards.dataset
    inputs = {}
    if has_fpa(dataset):
        inputs.update(
            fpa=f"results/fpa/{dataset}.csv", selections=fpa_selections(wildcards)
        )
    if has_pia(dataset):
        inputs["pia"] = f"results/pia/{dataset}.csv"
    if not inputs:
        raise ValueError(
            f"dataset {dataset!r} has neither a fairness sweep nor a property"
        )
    return inputs


def claims_delta(wildcards):
    return pia_settings(wildcards)["delta"]


# == defense.pia: the sharer's defenses against property inference (workflow/rules/defense_pia.smk)
# (appended block; its rules, scripts and library live in defense_pia.smk, defense_pia_*.py and
# diffshare.defenses.pia)


def check_defense_pia():
    """Stop at load, naming the key and value, when defense.pia is not usable."""
    from diffshare.defenses.pia import check_defense_settings

    check_defense_settings(config["defense"]["pia"])


def defense_pia_property(wildcards):
    """The dataset's private property (the rebalanced table's share is taken of it)."""
    return canonical(pia_property(config, wildcards.dataset))


def defense_pia_generator_settings(wildcards):
    """A defended model's family settings: those of the undefended PIA sweep's models."""
    # dp_sgd paths name no generator: only tabddpm is trained privately
    family = getattr(wildcards, "generator", "tabddpm")
    return family_settings(family, f"ratio~{wildcards.ratio}")


def defense_pia_private_params(wildcards):
    """DP-SGD settings (defense.pia.dp_sgd, defense.pia.delta); epsilon comes from the path."""
    defense = config["defense"]["pia"]
    return canonical({**defense["dp_sgd"], "target_delta": defense["delta"]})


def defense_pia_served(wildcards):
    """Rows served to the receiver: as many as the undefended PIA sweep draws."""
    return max(config["pia"]["queries"]) * config["pia"]["repeats"]


def defense_pia_sampling_params(wildcards):
    """Decoy sampling: the property, the rows served, the draw limit, and the sharer's property
    classifier (used when the samples lack the property column)."""
    defense = config["defense"]["pia"]
    classifier = defense["classifier"]
    return canonical(
        {
            "property": pia_property(config, wildcards.dataset),
            "n": defense_pia_served(wildcards),
            "max_draw_factor": defense["max_draw_factor"],
            "classifier": classifier,
            "params": config["downstream"]["params"][classifier],
        }
    )


def defense_pia_samples(wildcards):
    """The rows served to the receiver: the undefended PIA sweep's samples for `none`."""
    if wildcards.defense == "none":
        folder = f"results/samples/{wildcards.dataset}/{wildcards.generator}"
    else:
        folder = (
            f"results/defense/pia/samples/{wildcards.dataset}/{wildcards.generator}/"
            f"{wildcards.defense}/{wildcards.setting}"
        )
    return f"{folder}/ratio~{wildcards.ratio}/seed~{wildcards.seed}/samples.parquet"


def defense_pia_estimate_inputs(wildcards):
    """As estimate_inputs, with the defended samples."""
    subset = f"results/subsets/{wildcards.dataset}/ratio~{wildcards.ratio}/seed~{wildcards.seed}"
    return {
        "samples": defense_pia_samples(wildcards),
        "subset": f"{subset}/subset.json",
        "auxiliary": f"results/data/{wildcards.dataset}/test.parquet",
        "schema": f"results/data/{wildcards.dataset}/schema.json",
    }


def defense_pia_utility_inputs(wildcards):
    """The served rows, the real test split, and the schema of the sharer's table (without the
    property column when it is hidden)."""
    subset = f"results/subsets/{wildcards.dataset}/ratio~{wildcards.ratio}/seed~{wildcards.seed}"
    return {
        "samples": defense_pia_samples(wildcards),
        "test": f"results/data/{wildcards.dataset}/test.parquet",
        "schema": f"{subset}/schema.json",
        "subset": f"{subset}/subset.json",
    }


def defense_pia_utility_params(wildcards):
    return canonical(
        {name: config["downstream"]["params"][name] for name in ("logreg", "hgb")}
    )


def defense_pia_domain(wildcards):
    """The dataset's declared public domain (datasets.<name>.domain: category sets, numeric
    bounds), or None, which dp_sgd refuses naming the dataset and key."""
    return canonical(dataset_config(config, wildcards.dataset).get("domain"))


def defense_pia_privacy(wildcards):
    """privacy.json of every dp_sgd run, in the order of defense_pia_runs."""
    return [
        f"results/defense/pia/models/{wildcards.dataset}/{generator}/{method}/{setting}/"
        f"ratio~{ratio}/seed~{seed}/privacy.json"
        for method, setting, generator, ratio, seed in defense_pia_runs(wildcards)
        if method == "dp_sgd"
    ]


def defense_pia_settings():
    """(defense, setting) of the sweep: the undefended `none` first, then each method at each
    of its settings (rebalance and decoy_sampling at defense.pia.decoy, dp_sgd at each of
    defense.pia.epsilons)."""
    from diffshare.defenses.pia import setting_name

    defense = config["defense"]["pia"]
    settings = [("none", "none")]
    for method in defense["methods"]:
        values = defense["epsilons"] if method == "dp_sgd" else [defense["decoy"]]
        settings += [(method, setting_name(method, v, sweep_value)) for v in values]
    return settings


def defense_pia_skip(method, generator):
    """Why `method` cannot defend a `generator` model, or None (defenses.pia.skip_reason)."""
    from diffshare.defenses.pia import skip_reason

    return skip_reason(method, generator, FAMILIES[generator].persistence)


def defense_pia_runs(wildcards):
    """Every run of the defense sweep as [defense, setting, generator, ratio, seed], in the
    order of defense_pia_settings, but the defenses a family cannot take
    (defense_pia_skipped)."""
    # A dataset without a property stops the run, named.
    pia_property(config, wildcards.dataset)
    return [
        [method, setting, generator, sweep_value(ratio), seed]
        for method, setting in defense_pia_settings()
        for generator in config["defense"]["pia"]["generators"]
        if defense_pia_skip(method, generator) is None
        for ratio in config["pia"]["ratios"]
        for seed in pia_seeds(wildcards.dataset)
    ]


def defense_pia_skipped(wildcards):
    """[defense, setting, generator, reason] of every defense left out for a family."""
    return [
        [method, setting, generator, defense_pia_skip(method, generator)]
        for method, setting in defense_pia_settings()
        for generator in config["defense"]["pia"]["generators"]
        if defense_pia_skip(method, generator) is not None
    ]


def defense_pia_tables(wildcards):
    """Estimates and utility files of every run, in the order of defense_pia_runs."""
    estimates, utility = [], []
    for method, setting, generator, ratio, seed in defense_pia_runs(wildcards):
        run = f"{wildcards.dataset}/{generator}"
        tail = f"ratio~{ratio}/seed~{seed}"
        if method == "none":
            estimates.append(f"results/pia/estimates/{run}/{tail}/estimates.parquet")
        else:
            estimates.append(
                f"results/defense/pia/estimates/{run}/{method}/{setting}/{tail}/estimates.parquet"
            )
        utility.append(
            f"results/defense/pia/utility/{run}/{method}/{setting}/{tail}/utility.json"
        )
    return {"estimates": estimates, "utility": utility}


# == end of defense.pia block


# == defense.audit / defense.mitigations block: the receiver's defense against fairness
# poisoning (workflow/rules/defense_fpa.smk), on tables and on images.


def defended_dataset(dataset):
    """Stop the run, naming the dataset, unless it has a fairness poisoning sweep (an image
    dataset needs a sensitive attribute): the audit and the mitigations run on its models.
    """
    if not has_fpa(dataset):
        fix = (
            f"set image_datasets.{dataset}.sensitive"
            if dataset_kind(config, dataset) == "image"
            else "fpa.alphas is empty"
        )
        raise ValueError(
            f"the receiver's audit and mitigations run on the FPA sweep's models; dataset "
            f"{dataset!r} has none ({fix})"
        )


def audit_train_rows(wildcards):
    """The rows (images) each shared model of the FPA sweep was trained on (fpa.subset_size;
    image.fpa.subset_size): the training rows' term of the audit's null variance."""
    return int(fpa_settings(wildcards)["subset_size"])


def audit_settings(wildcards):
    """defense.audit without reference_size (the reference rows are audit_reference's output)
    and image_sensitive (image_sensitive_params): the keyword arguments of the audit
    (level, tests, n_bootstrap, confidence, classifier), passed on as they are."""
    audit = dict(config["defense"]["audit"])
    audit.pop("reference_size")
    audit.pop("image_sensitive", None)
    return canonical(audit)


def audit_records(wildcards):
    """One audit per shared model of the FPA sweep: every subset and seed."""
    defended_dataset(wildcards.dataset)
    return expand(
        "results/audit/{dataset}/{subset}/seed~{seed}/audit.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(wildcards.dataset),
        seed=SEEDS,
    )


def mitigation_settings(wildcards):
    """The mitigation's own settings (defense.<mitigation>), {} where it has none."""
    return canonical(config["defense"].get(wildcards.mitigation, {}))


def defended_classifiers(dataset):
    """The receivers of the FPA sweep: fpa.classifiers on tables, the CNN on images."""
    if dataset_kind(config, dataset) == "image":
        return ["cnn"]
    return config["fpa"]["classifiers"]


def defense_fpa_unmitigated(wildcards):
    """The FPA sweep's receivers on every shared model: the `none` rows."""
    defended_dataset(wildcards.dataset)
    sources = [f"synthetic/{subset}" for subset in fpa_subsets(wildcards.dataset)]
    return downstream_metrics(
        wildcards.dataset, sources, defended_classifiers(wildcards.dataset)
    )


def defense_fpa_mitigated(wildcards):
    """Every mitigation in defense.mitigations of every FPA receiver."""
    defended_dataset(wildcards.dataset)
    return expand(
        "results/defense/fpa/{dataset}/{subset}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/metrics.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(wildcards.dataset),
        seed=SEEDS,
        classifier=defended_classifiers(wildcards.dataset),
        mitigation=config["defense"]["mitigations"],
    )


def tabular_fpa_samples(wildcards):
    """The receiver's rows of one shared table model of the FPA sweep (fpa.generator)."""
    return (
        f"results/samples/{wildcards.dataset}/{config['fpa']['generator']}/"
        f"attack~{wildcards.attack}/alpha~{wildcards.alpha}/seed~{wildcards.seed}/samples.parquet"
    )


def image_fpa_samples(wildcards):
    """The receiver's samples of one shared image model of the FPA sweep (image.fpa.generator)."""
    generator = config["image"]["fpa"]["generator"]
    return (
        f"results/samples/{wildcards.dataset}/{generator}/attack~{wildcards.attack}/"
        f"alpha~{wildcards.alpha}/seed~{wildcards.seed}/samples.npz"
    )


def image_sensitive_reader(dataset):
    """How the receiver reads s off an image dataset's samples (defense.audit.image_sensitive;
    auto: the colour on Colored MNIST, else a CNN trained on the reference images)."""
    from diffshare.defenses.image import sensitive_reader

    source = image_dataset_config(config, dataset)["source"]
    return sensitive_reader(config["defense"]["audit"]["image_sensitive"], source)


def image_sensitive_params(wildcards):
    """The reader of s and, for the classifier, its CNN's settings (image.receiver)."""
    reader = image_sensitive_reader(wildcards.dataset)
    cnn = config["image"]["receiver"] if reader == "classifier" else {}
    return canonical({"reader": reader, "cnn": cnn})


def image_mitigation_inputs(wildcards):
    """The samples and the real test images, and the reference images where s is read by a
    classifier trained on them."""
    inputs = {
        "train": image_fpa_samples(wildcards),
        "test": f"results/data/{wildcards.dataset}/test.npz",
    }
    if image_sensitive_reader(wildcards.dataset) == "classifier":
        inputs["reference"] = (
            f"results/audit/{wildcards.dataset}/seed~{wildcards.seed}/reference.npz"
        )
    return inputs


# == end of defense.audit / defense.mitigations block


# -- sample quality (image datasets) ---------------------------------------------------------


def quality_sets(wildcards):
    """Every sample set of an image dataset's sweeps, as (generator, subset, seed): the FPA
    shared models' class-balanced samples, then the PIA models' unconditional ones."""
    dataset = wildcards.dataset
    sets = []
    if has_fpa(dataset):
        generator = config["image"]["fpa"]["generator"]
        sets += [
            {"generator": generator, "subset": subset, "seed": seed}
            for subset in fpa_subsets(dataset)
            for seed in SEEDS
        ]
    if has_pia(dataset):
        pia = track_section(config, dataset, "pia")
        sets += [
            {
                "generator": generator,
                "subset": f"ratio~{sweep_value(ratio)}",
                "seed": seed,
            }
            for generator in pia["generators"]
            for ratio in pia["ratios"]
            for seed in pia_seeds(dataset)
        ]
    return sets


def quality_samples(wildcards):
    return [
        f"results/samples/{wildcards.dataset}/{s['generator']}/{s['subset']}/seed~{s['seed']}/samples.npz"
        for s in quality_sets(wildcards)
    ]


def quality_params(wildcards):
    quality = config["image"]["quality"]
    return canonical(
        {
            "sets": quality_sets(wildcards),
            "classes": quality["classes"].get(wildcards.dataset, "y"),
            "epochs": quality["epochs"],
            "threshold": quality["threshold"],
        }
    )
