# Config validation and the small helpers that compute job inputs and params.
import os

from snakemake.utils import validate

from diffshare.config import (
    canonical,
    check_config,
    dataset_config,
    dataset_kind,
    image_dataset_config,
    image_pia_prompts,
    pia_property,
)

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
    if dataset_kind(config, wildcards.dataset) == "image":
        return image_fpa_metrics(wildcards)
    return expand(
        "results/downstream/{dataset}/synthetic/{subset}/classifier~{classifier}/seed~{seed}/metrics.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(),
        classifier=config["fpa"]["classifiers"],
        seed=SEEDS,
    )


def fpa_selections(wildcards):
    if dataset_kind(config, wildcards.dataset) == "image":
        return expand(
            "results/images/{dataset}/subsets/{subset}/seed~{seed}/selection.json",
            dataset=wildcards.dataset,
            subset=image_fpa_subsets(),
            seed=SEEDS,
        )
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
    # An unknown dataset, then a dataset without a property, stops the run naming it.
    kind = dataset_kind(config, wildcards.dataset)
    pia_property(config, wildcards.dataset)
    if kind == "image":
        return expand(
            "results/images/{dataset}/pia/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
            dataset=wildcards.dataset,
            generator=config["image"]["pia"]["generators"],
            ratio=[f"{ratio:g}" for ratio in config["image"]["pia"]["ratios"]],
            seed=pia_seeds(),
        )
    return expand(
        "results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        dataset=wildcards.dataset,
        generator=config["pia"]["generators"],
        ratio=[f"{ratio:g}" for ratio in config["pia"]["ratios"]],
        seed=pia_seeds(),
    )


def pia_reference(wildcards):
    """The generator the PIA log compares the others against: the first one listed."""
    if dataset_kind(config, wildcards.dataset) == "image":
        return config["image"]["pia"]["generators"][0]
    return config["pia"]["generators"][0]


def default_targets():
    """Every table and figure of every dataset in run.datasets: for tables all of them (PIA
    where a property is set); for images FPA where a sensitive attribute is set, and PIA.
    """
    datasets = config["run"]["datasets"]
    tabular = [d for d in datasets if dataset_kind(config, d) == "tabular"]
    images = [d for d in datasets if dataset_kind(config, d) == "image"]
    fpa_images = [
        d
        for d in images
        if image_dataset_config(config, d).get("sensitive") is not None
    ]
    targets = expand(
        ["results/baseline/{dataset}.csv", "results/utility/{dataset}.csv"],
        dataset=tabular,
    )
    targets += expand(
        ["results/fpa/{dataset}.csv", "results/fpa/{dataset}.png"],
        dataset=tabular + fpa_images,
    )
    return targets + expand(
        ["results/pia/{dataset}.csv", "results/pia/{dataset}.png"],
        dataset=[d for d in datasets if d in config["pia"]["properties"]],
    )


# -- the image track -------------------------------------------------------------------------


def image_entry(wildcards):
    """The entry image_datasets.<dataset>; an unknown name stops the run."""
    return image_dataset_config(config, wildcards.dataset)


def image_params(wildcards):
    entry = image_entry(wildcards)
    entry.pop("description", None)
    return canonical(entry)


def image_raw_files(wildcards):
    """The bundled file an image dataset is read from (none when it reads a folder)."""
    entry = image_entry(wildcards)
    if entry.get("folder") is None and entry.get("file"):
        return [os.path.join(ROOT, entry["file"]["path"])]
    return []


def image_feature_params(wildcards):
    return canonical(config["image"]["features"])


def image_mine_params(wildcards):
    """MINE settings of `fpa.mine` (include_sensitive is a tabular choice: features are images)."""
    mine = dict(config["fpa"]["mine"])
    mine.pop("include_sensitive", None)
    return canonical(mine)


def image_subset(wildcards):
    """The sharer's images a shared model is trained on (full: the whole pool)."""
    if wildcards.subset == "full":
        return f"results/images/{wildcards.dataset}/train.npz"
    return f"results/images/{wildcards.dataset}/subsets/{wildcards.subset}/seed~{wildcards.seed}/images.npz"


def image_generator_params(wildcards):
    image = config["image"]
    return canonical({"diffusion": image["diffusion"], "sngan": image["sngan"]})


def image_sampling_params(wildcards):
    """PIA sets (ratio~) are sampled unconditionally, one disjoint batch per repeat of the
    largest query; FPA subsets conditionally, balanced over y."""
    image = config["image"]
    if wildcards.subset.startswith("ratio~"):
        n = max(image["pia"]["queries"]) * image["pia"]["repeats"]
        conditional = False
    else:
        n, conditional = image["fpa"]["n_synthetic"], True
    return canonical(
        {"n": n, "conditional": conditional, "samplers": image["samplers"]}
    )


def image_training_set(wildcards):
    """The receiver's training images: `real` (the pool) or `synthetic/<subset>` (samples of
    the image.fpa.generator model trained on that subset with the same seed)."""
    if wildcards.source == "real":
        return f"results/images/{wildcards.dataset}/train.npz"
    subset = wildcards.source.removeprefix("synthetic/")
    generator = config["image"]["fpa"]["generator"]
    return f"results/images/{wildcards.dataset}/samples/{generator}/{subset}/seed~{wildcards.seed}/samples.npz"


def image_fpa_subsets():
    subsets = ["attack~none/alpha~0"]
    for attack in config["image"]["fpa"]["attacks"]:
        subsets += [
            f"attack~{attack}/alpha~{alpha:g}"
            for alpha in config["image"]["fpa"]["alphas"]
        ]
    return subsets


def image_fpa_metrics(wildcards):
    if image_entry(wildcards).get("sensitive") is None:
        raise ValueError(
            f"fairness poisoning on {wildcards.dataset!r} needs a sensitive attribute: set "
            f"image_datasets.{wildcards.dataset}.sensitive"
        )
    return expand(
        "results/images/{dataset}/downstream/synthetic/{subset}/classifier~cnn/seed~{seed}/metrics.json",
        dataset=wildcards.dataset,
        subset=image_fpa_subsets(),
        seed=SEEDS,
    )


def image_property(wildcards):
    return pia_property(config, wildcards.dataset)


def image_pia_params(wildcards):
    pia = config["image"]["pia"]
    discriminator = dict(pia["discriminator"])
    holdout = discriminator.pop("holdout")
    return canonical(
        {
            "property": pia_property(config, wildcards.dataset),
            "attacks": pia["attacks"],
            "queries": pia["queries"],
            "repeats": pia["repeats"],
            "cnn": discriminator,
            "holdout": holdout,
            "clip": config["image"]["features"]["clip"],
            "prompts": image_pia_prompts(config, wildcards.dataset),
        }
    )
