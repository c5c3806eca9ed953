# Functions used by the rules of workflow/rules/pia.smk (all but plot_pia).


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
