# Functions used by the rules of workflow/rules/receiver.smk (all five).


CLASSIFIERS = config["downstream"]["classifiers"]


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
