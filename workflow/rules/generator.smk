rule train_generator:
    """Train the shared tabular diffusion model on the sharer's table (GPU when present)."""
    input:
        train=subset_table,
        schema=subset_schema,
    output:
        model=directory(
            "results/generators/{dataset}/tabddpm/{subset}/seed~{seed}/model"
        ),
    log:
        "logs/generators/{dataset}/tabddpm/{subset}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_generator/{dataset}/tabddpm/{subset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=GPU,
        runtime=120,
        mem_mb=8000,
    params:
        model=generator_params,
        device=config["generator"]["device"],
        checkpoint_dir="results/checkpoints/{dataset}/tabddpm/{subset}/seed~{seed}",
        checkpoint_every=config["generator"]["checkpoint_every"],
    script:
        "../scripts/train_generator.py"


rule train_ctgan:
    """Train a non-diffusion baseline (CTGAN or TVAE, ctgan package) on the sharer's table."""
    input:
        train=subset_table,
        schema=subset_schema,
    output:
        model=directory(
            "results/generators/{dataset}/{generator}/{subset}/seed~{seed}/model"
        ),
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_ctgan/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        generator="ctgan|tvae",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=GPU,
        runtime=120,
        mem_mb=8000,
    params:
        model=lambda wildcards: canonical(config["generator"][wildcards.generator]),
        device=config["generator"]["device"],
    script:
        "../scripts/train_ctgan.py"


rule sample_generator:
    """Draw the receiver's synthetic rows from the shared model."""
    input:
        model="results/generators/{dataset}/{generator}/{subset}/seed~{seed}/model",
    output:
        samples="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/samples.parquet",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/sample.log",
    benchmark:
        "results/benchmarks/sample_generator/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=GPU,
        runtime=60,
        mem_mb=8000,
    params:
        n_synthetic=n_synthetic,
        device=config["generator"]["device"],
    script:
        "../scripts/sample_generator.py"


rule compare_marginals:
    """Per-column distance between the sharer's table and the synthetic rows."""
    input:
        real=subset_table,
        synthetic=rules.sample_generator.output.samples,
        schema=subset_schema,
    output:
        fidelity="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/fidelity.json",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/fidelity.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/compare_marginals.py"
