# Functions used by workflow/rules/defense_pia.smk: at load, and by all its rules but plot_defense_pia.


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
