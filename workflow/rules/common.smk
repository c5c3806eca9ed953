# Config validation and the small helpers that compute rule inputs and params.
import os

from snakemake.utils import validate

from diffshare.config import canonical, check_config, dataset_config

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

ROOT = workflow.basedir
SEEDS = config["run"]["seeds"]
CLASSIFIERS = config["downstream"]["classifiers"]


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    classifier="|".join(CLASSIFIERS),
    seed=r"\d+",
    source="real",


def dataset_entry(wildcards):
    """The catalogue entry of the requested dataset; an unknown name stops the run."""
    return dataset_config(config, wildcards.dataset)


def dataset_params(wildcards):
    """The dataset's entry as a rule param: canonical, without the free-text description."""
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
    """The table a downstream classifier is trained on, by its `source` path segment."""
    if wildcards.source == "real":
        return f"results/data/{wildcards.dataset}/train.parquet"
    raise ValueError(f"unknown training source {wildcards.source!r}")


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


def baseline_targets():
    return expand("results/baseline/{dataset}.csv", dataset=config["run"]["datasets"])
