# Config validation and the small helpers that compute job inputs and params.
import os

from snakemake.utils import validate

from diffshare.config import canonical, check_config, dataset_config, pia_property

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

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
        filter(None, [os.path.join(ROOT, "src"), os.environ.get("PYTHONPATH")])
    )
)
SEEDS = config["run"]["seeds"]
CLASSIFIERS = config["downstream"]["classifiers"]
# Generator jobs claim one GPU (a local profile limit, a SLURM --gpus request) unless the config
# pins them to the CPU.
GPU = 0 if config["generator"]["device"] == "cpu" else 1


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
    `real` (the sharer's training split) or `synthetic/<subset>` (samples of the shared
    diffusion model trained on that subset with the same seed)."""
    if wildcards.source == "real":
        return f"results/data/{wildcards.dataset}/train.parquet"
    subset = wildcards.source.removeprefix("synthetic/")
    return f"results/samples/{wildcards.dataset}/tabddpm/{subset}/seed~{wildcards.seed}/samples.parquet"


def subset_table(wildcards):
    """The sharer's table a shared model is trained on: `full` is the whole training split,
    `attack~<attack>/alpha~<alpha>` a subset chosen by `select_subset`, `ratio~<ratio>` a
    table at an exact property ratio built by `sharer_table`."""
    if wildcards.subset == "full":
        return f"results/data/{wildcards.dataset}/train.parquet"
    return f"results/subsets/{wildcards.dataset}/{wildcards.subset}/seed~{wildcards.seed}/table.parquet"


def subset_schema(wildcards):
    """The schema of the sharer's table: a PIA table may leave the property column out."""
    if wildcards.subset.startswith("ratio~"):
        return f"results/subsets/{wildcards.dataset}/{wildcards.subset}/seed~{wildcards.seed}/schema.json"
    return f"results/data/{wildcards.dataset}/schema.json"


def generator_params(wildcards):
    settings = dict(config["generator"]["tabular"])
    if wildcards.subset.startswith("ratio~"):
        settings["steps"] = config["pia"]["generator_steps"]
    elif wildcards.subset != "full":
        settings["steps"] = config["fpa"]["generator_steps"]
    return canonical(settings)


def n_synthetic(wildcards):
    """Rows the receiver draws: for PIA, one disjoint batch per repeat of the largest query."""
    if wildcards.subset.startswith("ratio~"):
        return max(config["pia"]["queries"]) * config["pia"]["repeats"]
    return config["generator"]["n_synthetic"]


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
        "results/samples/{dataset}/tabddpm/full/seed~{seed}/fidelity.json",
        dataset=wildcards.dataset,
        seed=SEEDS,
    )


def pia_seeds():
    return config["pia"]["seeds"] or SEEDS


def pia_params(wildcards):
    """The property of the dataset and whether the sharer hides it."""
    return canonical(
        {
            "property": pia_property(config, wildcards.dataset),
            "hide_property": config["pia"]["hide_property"],
            "subset_size": config["pia"]["subset_size"],
        }
    )


def pia_estimate_params(wildcards):
    pia = config["pia"]
    discriminator = pia["discriminator"]
    return canonical(
        {
            "property": pia_property(config, wildcards.dataset),
            "attacks": pia["attacks"],
            "queries": pia["queries"],
            "repeats": pia["repeats"],
            "classifier": discriminator["classifier"],
            "params": config["downstream"]["params"][discriminator["classifier"]],
            "holdout": discriminator["holdout"],
        }
    )


def pia_estimates(wildcards):
    pia_property(
        config, wildcards.dataset
    )  # no property configured: stop with its name
    return expand(
        "results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        dataset=wildcards.dataset,
        generator=config["pia"]["generators"],
        ratio=[f"{ratio:g}" for ratio in config["pia"]["ratios"]],
        seed=pia_seeds(),
    )


def default_targets():
    """Every table and figure of every dataset in run.datasets (PIA where a property is set)."""
    targets = expand(
        [
            "results/baseline/{dataset}.csv",
            "results/utility/{dataset}.csv",
            "results/fpa/{dataset}.csv",
            "results/fpa/{dataset}.png",
        ],
        dataset=config["run"]["datasets"],
    )
    return targets + expand(
        ["results/pia/{dataset}.csv", "results/pia/{dataset}.png"],
        dataset=[
            d for d in config["run"]["datasets"] if d in config["pia"]["properties"]
        ],
    )
