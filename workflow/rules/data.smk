# Prepared data of both tracks: typed Parquet tables, or .npz image sets (and their features).


rule prepare:
    """Parse a tabular dataset's raw files (checksums verified) into typed Parquet tables."""
    input:
        raw_files,
    output:
        train="results/data/{dataset}/train.parquet",
        test="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
        summary="results/data/{dataset}/summary.json",
    log:
        "logs/data/{dataset}.log",
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        entry=dataset_params,
    script:
        "../scripts/prepare.py"


rule prepare_images:
    """Read an image dataset (checksummed bundled digits or a local folder) into 32x32 sets."""
    input:
        raw_files,
    output:
        train="results/data/{dataset}/train.npz",
        test="results/data/{dataset}/test.npz",
        summary="results/data/{dataset}/summary.json",
    log:
        "logs/data/{dataset}.log",
    wildcard_constraints:
        dataset=IMAGES,
    conda:
        CONDA_ENV
    params:
        entry=dataset_params,
    script:
        "../scripts/prepare_images.py"


rule image_features:
    """Features of the pool and test images: CLIP when configured, else a CNN's penultimate layer."""
    input:
        train="results/data/{dataset}/train.npz",
        test="results/data/{dataset}/test.npz",
    output:
        train="results/features/{dataset}/seed~{seed}/train.parquet",
        test="results/features/{dataset}/seed~{seed}/test.parquet",
        record="results/features/{dataset}/seed~{seed}/features.json",
    log:
        "logs/features/{dataset}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/image_features/{dataset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        features=canonical(config["image"]["features"]),
        device=config["generator"]["device"],
    script:
        "../scripts/image_features.py"
