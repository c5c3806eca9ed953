rule benchmarks:
    """Every job's wall time, peak memory and CPU time, gathered after the default targets."""
    input:
        default_targets(),
    output:
        "results/benchmarks.csv",
    log:
        "logs/benchmarks.log",
    conda:
        CONDA_ENV
    params:
        # results/benchmarks/, beside the output
        folder=lambda wildcards, output: os.path.join(
            os.path.dirname(output[0]), "benchmarks"
        ),
    script:
        "../scripts/collect_benchmarks.py"
