# How sure a finding is: summaries over seeds beside the per-seed tables, and the claims report.


rule fpa_summary:
    """Per attack, alpha and classifier: mean, std and 95% t interval over seeds."""
    input:
        "results/fpa/{dataset}.csv",
    output:
        report(
            "results/fpa/{dataset}_summary.csv",
            caption="../report/fpa_summary.rst",
            category="Fairness poisoning",
        ),
    log:
        "logs/fpa/{dataset}_summary.log",
    conda:
        CONDA_ENV
    params:
        table="fpa",
    script:
        "../scripts/summary_table.py"


use rule fpa_summary as pia_summary with:
    input:
        "results/pia/{dataset}.csv",
    output:
        report(
            "results/pia/{dataset}_summary.csv",
            caption="../report/pia_summary.rst",
            category="Property inference",
        ),
    log:
        "logs/pia/{dataset}_summary.log",
    params:
        table="pia",


rule claims:
    """The paper's findings this dataset can test: statistic, interval, test, verdict."""
    input:
        unpack(claims_inputs),
    output:
        report(
            "results/claims/{dataset}.csv",
            caption="../report/claims.rst",
            category="Claims",
        ),
    log:
        "logs/claims/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        level=config["claims"]["level"],
        correction=config["claims"]["correction"],
        delta=claims_delta,
        diffusion={name: family.diffusion for name, family in FAMILIES.items()},
    script:
        "../scripts/claims.py"
