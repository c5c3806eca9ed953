rule train_mine:
    """Train the MINE statistics network once on the pool; keep T(x, 0) and T(x, 1) per row."""
    input:
        train="results/data/{dataset}/train.parquet",
        schema="results/data/{dataset}/schema.json",
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
    conda:
        CONDA_ENV
    params:
        subset_size=config["fpa"]["subset_size"],
        tolerance=config["fpa"]["tolerance"],
        candidates_per_cell=config["fpa"]["candidates_per_cell"],
    script:
        "../scripts/select_subset.py"


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
