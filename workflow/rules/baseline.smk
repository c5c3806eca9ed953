rule baseline:
    """Classifiers trained on the sharer's real training split: the reference row of every table."""
    input:
        baseline_metrics,
    output:
        report(
            "results/baseline/{dataset}.csv",
            caption="../report/baseline.rst",
            category="Baseline",
        ),
    log:
        "logs/baseline/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_metrics.py"
