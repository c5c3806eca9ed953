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
    `real` (the sharer's training split) or `synthetic/subset~<subset>` (the shared model's
    samples, from the model trained on that subset with the same seed)."""
    if wildcards.source == "real":
        return f"results/data/{wildcards.dataset}/train.parquet"
    subset = wildcards.source.removeprefix("synthetic/")
    return f"results/samples/{wildcards.dataset}/{subset}/seed~{wildcards.seed}/samples.parquet"


def subset_table(wildcards):
    """The sharer's table a shared model is trained on; `full` is the whole training split."""
    return f"results/data/{wildcards.dataset}/train.parquet"


def generator_params(wildcards):
    return canonical(config["generator"]["tabular"])


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
    return downstream_metrics(wildcards.dataset, "synthetic/subset~full")


def utility_fidelity(wildcards):
    return expand(
        "results/samples/{dataset}/subset~full/seed~{seed}/fidelity.json",
        dataset=wildcards.dataset,
        seed=SEEDS,
    )


def default_targets():
    return expand(
        ["results/baseline/{dataset}.csv", "results/utility/{dataset}.csv"],
        dataset=config["run"]["datasets"],
    )
