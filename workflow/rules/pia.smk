# Property inference (PIA), both tracks: the sharer's sets at exact property ratios, the
# receiver's estimates from each shared model's samples, and the table.


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
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        track=kind,
        pia=sharer_params,
    script:
        "../scripts/sharer_set.py"


use rule sharer_table as image_sharer_set with:
    input:
        train="results/data/{dataset}/train.npz",
    output:
        images="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/images.npz",
        record="results/subsets/{dataset}/ratio~{ratio}/seed~{seed}/subset.json",
    wildcard_constraints:
        dataset=IMAGES,


use rule sharer_table as shadow_table with:
    input:
        train="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        table="results/subsets/{dataset}/shadow~{share}/seed~{seed}/table.parquet",
        schema="results/subsets/{dataset}/shadow~{share}/seed~{seed}/schema.json",
        record="results/subsets/{dataset}/shadow~{share}/seed~{seed}/subset.json",
    log:
        "logs/subsets/{dataset}/shadow~{share}/seed~{seed}.log",
    params:
        track=kind,
        pia=shadow_params,


use rule image_sharer_set as image_shadow_set with:
    input:
        train="results/data/{dataset}/test.npz",
    output:
        images="results/subsets/{dataset}/shadow~{share}/seed~{seed}/images.npz",
        record="results/subsets/{dataset}/shadow~{share}/seed~{seed}/subset.json",
    log:
        "logs/subsets/{dataset}/shadow~{share}/seed~{seed}.log",
    params:
        track=kind,
        pia=shadow_params,


rule estimate_property:
    """Every PIA attack's estimates from one shared model's samples (per query count, repeat)."""
    input:
        unpack(estimate_inputs),
    output:
        estimates="results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        record="results/pia/estimates/{dataset}/{generator}/ratio~{ratio}/seed~{seed}/discriminator.json",
    log:
        "logs/pia/{dataset}/{generator}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/estimate_property/{dataset}/{generator}/ratio~{ratio}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: estimate_threads
    params:
        track=kind,
        pia=estimate_params,
        device=config["generator"]["device"],
    script:
        "../scripts/estimate_property.py"


use rule estimate_property as estimate_shadow with:
    input:
        unpack(shadow_estimate_inputs),
    output:
        estimates="results/pia/estimates/{dataset}/{generator}/shadow~{share}/seed~{seed}/estimates.parquet",
        record="results/pia/estimates/{dataset}/{generator}/shadow~{share}/seed~{seed}/discriminator.json",
    log:
        "logs/pia/{dataset}/{generator}/shadow~{share}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/estimate_shadow/{dataset}/{generator}/shadow~{share}/seed~{seed}.tsv"


rule calibrate_property:
    """The map from one family's raw estimate to the share, fitted on its shadow models."""
    input:
        unpack(calibration_inputs),
    output:
        "results/pia/calibration/{dataset}/{generator}/seed~{seed}.json",
    log:
        "logs/pia/calibration/{dataset}/{generator}/seed~{seed}.log",
    conda:
        CONDA_ENV
    params:
        attack=calibration_attack,
    script:
        "../scripts/calibrate_property.py"


rule pia:
    """One row per generator, attack, true ratio, query count and seed."""
    input:
        estimates=pia_estimates,
        calibrations=pia_calibrations,
    output:
        report(
            "results/pia/{dataset}.csv",
            caption="../report/pia.rst",
            category="Property inference",
        ),
    log:
        "logs/pia/{dataset}.log",
    wildcard_constraints:
        dataset=SEED_TABLE_DATASET,
    conda:
        CONDA_ENV
    params:
        delta=pia_delta,
        reference=pia_reference,
    script:
        "../scripts/pia_table.py"


rule pia_calibration_sensitivity:
    """Every family's targets calibrated with every family's shadows, and with their span."""
    input:
        estimates=pia_estimates,
        calibrations=pia_calibrations,
    output:
        "results/pia/calibration/{dataset}.csv",
    log:
        "logs/pia/calibration/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        delta=pia_delta,
    script:
        "../scripts/pia_sensitivity.py"


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
