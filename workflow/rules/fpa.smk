# Fairness poisoning (FPA), both tracks: MINE on the pool, the sharer's (possibly poisoned)
# subsets, and the table of the receivers trained on the shared models' samples.


rule train_mine:
    """Train the MINE statistics network once on the pool; keep T(x, 0) and T(x, 1) per row."""
    input:
        unpack(mine_inputs),
    output:
        terms="results/mine/{dataset}/seed~{seed}/row_terms.parquet",
        record="results/mine/{dataset}/seed~{seed}/mine.json",
    log:
        "logs/mine/{dataset}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train_mine/{dataset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    params:
        track=kind,
        mine=mine_params,
    script:
        "../scripts/train_mine.py"


rule select_subset:
    """The sharer's (possibly poisoned) training subset for one attack, alpha and seed."""
    input:
        train="results/data/{dataset}/train.parquet",
        schema="results/data/{dataset}/schema.json",
        terms=rules.train_mine.output.terms,
    output:
        rows="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/rows.parquet",
        table="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/table.parquet",
        record="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/selection.json",
    log:
        "logs/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/select_subset/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        track=kind,
        selection=selection_params,
    script:
        "../scripts/select_subset.py"


use rule select_subset as select_images with:
    input:
        train="results/data/{dataset}/train.npz",
        terms=rules.train_mine.output.terms,
    output:
        rows="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/rows.parquet",
        images="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/images.npz",
        record="results/subsets/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/selection.json",
    wildcard_constraints:
        dataset=IMAGES,


rule fpa:
    """One row per attack, alpha, seed and classifier, with losses against the random subset."""
    input:
        metrics=fpa_metrics,
        selections=fpa_selections,
    output:
        report(
            "results/fpa/{dataset}.csv",
            caption="../report/fpa.rst",
            category="Fairness poisoning",
        ),
    log:
        "logs/fpa/{dataset}.log",
    wildcard_constraints:
        dataset=SEED_TABLE_DATASET,
    conda:
        CONDA_ENV
    script:
        "../scripts/fpa_table.py"


rule plot_fpa:
    """Accuracy and fairness loss against the poisoning ratio."""
    input:
        "results/fpa/{dataset}.csv",
    output:
        report(
            "results/fpa/{dataset}.png",
            caption="../report/fpa_figure.rst",
            category="Fairness poisoning",
        ),
    log:
        "logs/fpa/{dataset}_plot.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/plot_fpa.py"
