rule prepare:
    """Parse a dataset's raw files (checksums verified) into typed Parquet tables."""
    input:
        raw_files,
    output:
        train="results/data/{dataset}/train.parquet",
        test="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
        summary="results/data/{dataset}/summary.json",
    log:
        "logs/prepare/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        entry=dataset_params,
        root=ROOT,
    script:
        "../scripts/prepare.py"
