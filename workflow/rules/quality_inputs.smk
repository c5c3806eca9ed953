# Functions used by the rule sample_quality (workflow/rules/quality.smk).


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
