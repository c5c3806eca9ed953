# The sharer's defenses against property inference (defense.pia): rebalance (a decoy share in
# the training table), decoy_sampling (the served samples carry a decoy share) and dp_sgd
# (Opacus), swept over the PIA ratios and seeds, with the undefended PIA sweep as `none`.
# Paths: results/defense/pia/{models,samples,estimates,utility}/{dataset}/{generator}/
# {defense}/{setting}/ratio~{ratio}/seed~{seed}/..., tables results/defense/pia/{dataset}*.


check_defense_pia()


rule defense_pia_rebalance:
    """The sharer's table resampled to the decoy property share, label counts kept."""
    input:
        table="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/table.parquet",
        schema="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/schema.json",
        train="results/data/{dataset}/train.parquet",
    output:
        table="results/defense/pia/subsets/{dataset}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}/table.parquet",
        schema="results/defense/pia/subsets/{dataset}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}/schema.json",
        record="results/defense/pia/subsets/{dataset}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}/rebalance.json",
    log:
        "logs/defense/pia/subsets/{dataset}/decoy~{decoy}/ratio~{ratio}/seed~{seed}.log",
    wildcard_constraints:
        dataset=TABULAR,
        decoy=SWEEP_VALUE,
    conda:
        CONDA_ENV
    params:
        property=defense_pia_property,
    script:
        "../scripts/defense_pia_rebalance.py"


use rule train_generator as defense_pia_train_rebalanced with:
    input:
        train=rules.defense_pia_rebalance.output.table,
        schema=rules.defense_pia_rebalance.output.schema,
    output:
        model=directory(
            "results/defense/pia/models/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}/model"
        ),
    log:
        "logs/defense/pia/models/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_train/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        decoy=SWEEP_VALUE,
    params:
        track="tabular",
        model=defense_pia_generator_settings,
        device=config["generator"]["device"],
        checkpoint_dir="results/checkpoints/defense/pia/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}",
        checkpoint_every=config["generator"]["checkpoint_every"],
        plugins=generator_plugins,


use rule train_sample_generator as defense_pia_train_sample_rebalanced with:
    input:
        train=rules.defense_pia_rebalance.output.table,
        schema=rules.defense_pia_rebalance.output.schema,
    output:
        samples="results/defense/pia/samples/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}/samples.parquet",
    log:
        "logs/defense/pia/samples/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_train_sample/{dataset}/{generator}/rebalance/decoy~{decoy}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        generator=SAMPLE_ONLY,
        decoy=SWEEP_VALUE,
    params:
        model=defense_pia_generator_settings,
        n_synthetic=defense_pia_served,
        plugins=generator_plugins,


rule defense_pia_train_private:
    """The shared tabddpm model trained with DP-SGD (Opacus) at a target epsilon."""
    input:
        train="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/table.parquet",
        schema="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/schema.json",
    output:
        model=directory(
            "results/defense/pia/models/{dataset}/tabddpm/dp_sgd/epsilon~{epsilon}/ratio~{ratio}/seed~{seed}/model"
        ),
        privacy="results/defense/pia/models/{dataset}/tabddpm/dp_sgd/epsilon~{epsilon}/ratio~{ratio}/seed~{seed}/privacy.json",
    log:
        "logs/defense/pia/models/{dataset}/tabddpm/dp_sgd/epsilon~{epsilon}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_train/{dataset}/tabddpm/dp_sgd/epsilon~{epsilon}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        epsilon=SWEEP_VALUE,
    conda:
        CONDA_ENV
    threads: generator_threads
    resources:
        gpu=gpu_claim,
        runtime=240,
        mem_mb=8000,
    params:
        model=defense_pia_generator_settings,
        dp_sgd=defense_pia_private_params,
        domain=defense_pia_domain,
        device=config["generator"]["device"],
    script:
        "../scripts/defense_pia_train_private.py"


use rule sample_generator as defense_pia_sample with:
    input:
        model="results/defense/pia/models/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}/model",
    output:
        samples="results/defense/pia/samples/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}/samples.parquet",
    log:
        "logs/defense/pia/samples/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_sample/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        generator=SAVED_TABLE,
        defense="rebalance|dp_sgd",
        setting=rf"(decoy|epsilon)~{SWEEP_VALUE}",
    params:
        n_synthetic=defense_pia_served,
        device=config["generator"]["device"],
        plugins=generator_plugins,


rule defense_pia_decoy_sampling:
    """Served samples of the undefended model carrying the decoy property share."""
    input:
        model="results/generators/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/model",
        table="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/table.parquet",
        schema="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/schema.json",
        train="results/data/{dataset}/train.parquet",
    output:
        samples="results/defense/pia/samples/{dataset}/{generator}/decoy_sampling/decoy~{decoy}/ratio~{ratio}/seed~{seed}/samples.parquet",
        record="results/defense/pia/samples/{dataset}/{generator}/decoy_sampling/decoy~{decoy}/ratio~{ratio}/seed~{seed}/sampling.json",
    log:
        "logs/defense/pia/samples/{dataset}/{generator}/decoy_sampling/decoy~{decoy}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_sample/{dataset}/{generator}/decoy_sampling/decoy~{decoy}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        decoy=SWEEP_VALUE,
    conda:
        CONDA_ENV
    threads: generator_threads
    resources:
        gpu=gpu_claim,
        runtime=60,
        mem_mb=8000,
    params:
        sampling=defense_pia_sampling_params,
        device=config["generator"]["device"],
        plugins=generator_plugins,
    script:
        "../scripts/defense_pia_decoy_sampling.py"


use rule estimate_property as defense_pia_estimate with:
    input:
        unpack(defense_pia_estimate_inputs),
    output:
        estimates="results/defense/pia/estimates/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        record="results/defense/pia/estimates/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}/discriminator.json",
    log:
        "logs/defense/pia/estimates/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_estimate/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        defense="rebalance|decoy_sampling|dp_sgd",
        setting=rf"(decoy|epsilon)~{SWEEP_VALUE}",


rule defense_pia_utility:
    """The label task on the served rows: logreg and hgb trained on them, real test accuracy."""
    input:
        unpack(defense_pia_utility_inputs),
    output:
        utility="results/defense/pia/utility/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}/utility.json",
    log:
        "logs/defense/pia/utility/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/defense_pia_utility/{dataset}/{generator}/{defense}/{setting}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        defense="none|rebalance|decoy_sampling|dp_sgd",
        setting=rf"none|(decoy|epsilon)~{SWEEP_VALUE}",
    conda:
        CONDA_ENV
    params:
        classifiers=defense_pia_utility_params,
        use_sensitive=config["downstream"]["use_sensitive"],
    script:
        "../scripts/defense_pia_utility.py"


rule defense_pia:
    """One row per defense, setting, generator, attack, true ratio, query count and seed, and
    the leakage slopes."""
    input:
        unpack(defense_pia_tables),
        privacy=defense_pia_privacy,
    output:
        table=report(
            "results/defense/pia/{dataset}.csv",
            caption="../report/defense_pia.rst",
            category="Defenses",
        ),
        leakage=report(
            "results/defense/pia/{dataset}_leakage.csv",
            caption="../report/defense_pia_leakage.rst",
            category="Defenses",
        ),
    log:
        "logs/defense/pia/{dataset}.log",
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        runs=defense_pia_runs,
        skipped=defense_pia_skipped,
    script:
        "../scripts/defense_pia_table.py"


rule plot_defense_pia:
    """The attacker's estimate against the true ratio per defense, beside the undefended."""
    input:
        "results/defense/pia/{dataset}.csv",
    output:
        report(
            "results/defense/pia/{dataset}.png",
            caption="../report/defense_pia_figure.rst",
            category="Defenses",
        ),
    log:
        "logs/defense/pia/{dataset}_plot.log",
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    script:
        "../scripts/defense_pia_plot.py"
