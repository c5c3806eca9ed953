# Config validation and the small helpers that compute job inputs and params.
import os

from snakemake.utils import validate

from diffshare.config import canonical, check_config, dataset_config

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

ROOT = workflow.basedir
SEEDS = config["run"]["seeds"]
CLASSIFIERS = config["downstream"]["classifiers"]


def dataset_entry(wildcards):
    """The catalogue entry of the requested dataset; an unknown name stops the run."""
    return dataset_config(config, wildcards.dataset)


def dataset_params(wildcards):
    """The dataset entry as `prepare` params: canonical, without the free-text description."""
    entry = dataset_entry(wildcards)
    entry.pop("description", None)  # editing prose must not rerun anything
    return canonical(entry)


def raw_files(wildcards):
    """The raw files of a dataset, so that replacing one reruns its preparation."""
    return [
        os.path.join(ROOT, item["path"])  # join keeps absolute paths as they are
        for item in dataset_entry(wildcards)["files"].values()
    ]


def training_table(wildcards):
    """The table a downstream classifier is trained on, by its `source` path segment:
    `real` (the sharer's training split) or `synthetic/<subset>` (the shared model's
    samples, from the model trained on that subset with the same seed)."""
    if wildcards.source == "real":
        return f"results/data/{wildcards.dataset}/train.parquet"
    subset = wildcards.source.removeprefix("synthetic/")
    return f"results/samples/{wildcards.dataset}/{subset}/seed~{wildcards.seed}/samples.parquet"


def subset_table(wildcards):
    """The sharer's table a shared model is trained on: `full` is the whole training split,
    `attack~<attack>/alpha~<alpha>` a subset chosen by `select_subset`."""
    if wildcards.subset == "full":
        return f"results/data/{wildcards.dataset}/train.parquet"
    return f"results/subsets/{wildcards.dataset}/{wildcards.subset}/seed~{wildcards.seed}/table.parquet"


def generator_params(wildcards):
    settings = dict(config["generator"]["tabular"])
    if wildcards.subset != "full":
        settings["steps"] = config["fpa"]["generator_steps"]
    return canonical(settings)


def mine_params(wildcards):
    return canonical(config["fpa"]["mine"])


def fpa_subsets():
    """Subset path segments of the sweep: the random reference, then each attack and alpha."""
    subsets = ["attack~none/alpha~0"]
    for attack in config["fpa"]["attacks"]:
        subsets += [
            f"attack~{attack}/alpha~{alpha:g}" for alpha in config["fpa"]["alphas"]
        ]
    return subsets


def fpa_metrics(wildcards):
    dataset_entry(wildcards)
    return expand(
        "results/downstream/{dataset}/synthetic/{subset}/classifier~{classifier}/seed~{seed}/metrics.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(),
        classifier=config["fpa"]["classifiers"],
        seed=SEEDS,
    )


def fpa_selections(wildcards):
    return expand(
        "results/subsets/{dataset}/{subset}/seed~{seed}/selection.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(),
        seed=SEEDS,
    )


def classifier_params(wildcards):
    return canonical(config["downstream"]["params"][wildcards.classifier])


def downstream_metrics(dataset, source):
    """Metrics files of every configured classifier and seed for one training source."""
    return expand(
        "results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/metrics.json",
        dataset=dataset,
        source=source,
        classifier=CLASSIFIERS,
        seed=SEEDS,
    )


def baseline_metrics(wildcards):
    dataset_entry(wildcards)  # an unknown dataset stops the run with a clear message
    return downstream_metrics(wildcards.dataset, "real")


def utility_synthetic_metrics(wildcards):
    dataset_entry(wildcards)
    return downstream_metrics(wildcards.dataset, "synthetic/full")


def utility_fidelity(wildcards):
    return expand(
        "results/samples/{dataset}/full/seed~{seed}/fidelity.json",
        dataset=wildcards.dataset,
        seed=SEEDS,
    )


def default_targets():
    return expand(
        [
            "results/baseline/{dataset}.csv",
            "results/utility/{dataset}.csv",
            "results/fpa/{dataset}.csv",
            "results/fpa/{dataset}.png",
        ],
        dataset=config["run"]["datasets"],
    )
