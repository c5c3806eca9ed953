rule sharer_table:
    """The sharer's table at an exact property ratio, drawn from the training split."""
    input:
        train="results/data/{dataset}/train.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        table="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/table.parquet",
        schema="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/schema.json",
        record="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/subset.json",
    log:
        "logs/subsets/{dataset}/ratio~{ratio}/seed~{seed}.log",
    conda:
        CONDA_ENV
    params:
        pia=pia_params,
    script:
        "../scripts/sharer_table.py"


rule estimate_property:
    """Every PIA attack's estimates from one shared model's samples (per query count, repeat)."""
    input:
        samples="results/samples/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/samples.parquet",
        subset="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/subset.json",
        auxiliary="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        estimates="results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        record="results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/discriminator.json",
    log:
        "logs/pia/{dataset}/{generator}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/estimate_property/{dataset}/{generator}/ratio~{ratio}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    params:
        pia=pia_estimate_params,
    script:
        "../scripts/estimate_property.py"


rule pia:
    """One row per generator, attack, true ratio, query count and seed."""
    input:
        pia_estimates,
    output:
        report(
            "results/pia/{dataset}.csv",
            caption="../report/pia.rst",
            category="Property inference",
        ),
    log:
        "logs/pia/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        delta=config["pia"]["delta"],
        reference=pia_reference,
    script:
        "../scripts/pia_table.py"


rule plot_pia:
    """Estimates against the true ratio with the identity line and the Hoeffding band."""
    input:
        "results/pia/{dataset}.csv",
    output:
        report(
            "results/pia/{dataset}.png",
            caption="../report/pia_figure.rst",
            category="Property inference",
        ),
    log:
        "logs/pia/{dataset}_plot.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/plot_pia.py"
