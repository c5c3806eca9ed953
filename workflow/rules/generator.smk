# The shared models of both tracks: every family (tabddpm, ctgan, tvae; ddpm, edm, sngan; and
# plugin families) is trained by one rule, behind one interface (diffshare.generators), and
# sampled by its track's; a sample-only family (a library that saves by pickling) is trained
# and sampled in one job, and only its samples are kept.


rule train_generator:
    """Train a shared model of the `{generator}` family on the sharer's data (GPU when present)."""
    input:
        unpack(subset_files),
    output:
        model=directory(
            "results/generators/{dataset}/{generator}/{subset}/seed~{seed}/model"
        ),
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_generator/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        generator=family_pattern(
            [n for n, f in FAMILIES.items() if f.persistence == "safe"]
        ),
    conda:
        CONDA_ENV
    threads: generator_threads
    resources:
        gpu=gpu_claim,
        runtime=lambda wildcards: generator_resources(wildcards)[0],
        mem_mb=lambda wildcards: generator_resources(wildcards)[1],
    params:
        track=kind,
        model=generator_settings,
        device=config["generator"]["device"],
        checkpoint_dir="results/checkpoints/{dataset}/{generator}/{subset}/seed~{seed}",
        checkpoint_every=config["generator"]["checkpoint_every"],
        plugins=generator_plugins,
        matmul_precision=matmul_precision,
    script:
        "../scripts/train_generator.py"


rule train_sample_generator:
    """Train a sample-only `{generator}` model and draw the receiver's rows in one job."""
    input:
        unpack(subset_files),
    output:
        samples="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/samples.parquet",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/train_sample.log",
    benchmark:
        "results/benchmarks/train_sample_generator/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        generator=SAMPLE_ONLY,
    conda:
        CONDA_ENV
    threads: config["generator"]["table_threads"]
    resources:
        runtime=120,
        mem_mb=8000,
    params:
        model=generator_settings,
        n_synthetic=n_synthetic,
        plugins=generator_plugins,
        matmul_precision=config["generator"]["table_matmul_precision"],
    script:
        "../scripts/train_sample_generator.py"


rule sample_generator:
    """Draw the receiver's synthetic rows from a shared table model."""
    input:
        model="results/generators/{dataset}/{generator}/{subset}/seed~{seed}/model",
    output:
        samples="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/samples.parquet",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/sample.log",
    benchmark:
        "results/benchmarks/sample_generator/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        generator=SAVED_TABLE,
    conda:
        CONDA_ENV
    threads: config["generator"]["table_threads"]
    resources:
        gpu=gpu_claim,
        runtime=60,
        mem_mb=8000,
    params:
        n_synthetic=n_synthetic,
        device=config["generator"]["device"],
        plugins=generator_plugins,
        matmul_precision=config["generator"]["table_matmul_precision"],
    script:
        "../scripts/sample_generator.py"


rule sample_images:
    """The receiver's images: balanced over y for fairness poisoning, unconditional for PIA."""
    input:
        model="results/generators/{dataset}/{generator}/{subset}/seed~{seed}/model",
    output:
        samples="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/samples.npz",
        grid=report(
            "results/samples/{dataset}/{generator}/{subset}/seed~{seed}/samples.png",
            caption="../report/image_samples.rst",
            category="Image samples",
            subcategory="{dataset}",
        ),
        record="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/sampling.json",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/sample.log",
    benchmark:
        "results/benchmarks/sample_images/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=IMAGES,
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=gpu_claim,
        runtime=120,
        mem_mb=16000,
    params:
        sampling=image_sampling_params,
        device=config["generator"]["device"],
        plugins=generator_plugins,
    script:
        "../scripts/sample_images.py"


rule compare_marginals:
    """Per-column distance between the sharer's table and the synthetic rows."""
    input:
        unpack(subset_files),
        synthetic=rules.sample_generator.output.samples,
    output:
        fidelity="results/samples/{dataset}/{generator}/{subset}/seed~{seed}/fidelity.json",
    log:
        "logs/generators/{dataset}/{generator}/{subset}/seed~{seed}/fidelity.log",
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    script:
        "../scripts/compare_marginals.py"
