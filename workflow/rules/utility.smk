rule utility:
    """Classifiers trained on real rows against the same trained on the shared model's samples."""
    input:
        real=baseline_metrics,
        synthetic=utility_synthetic_metrics,
        fidelity=utility_fidelity,
    output:
        report(
            "results/utility/{dataset}.csv",
            caption="../report/utility.rst",
            category="Utility",
        ),
    log:
        "logs/utility/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/utility.py"
