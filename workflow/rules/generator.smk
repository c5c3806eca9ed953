# The shared models of both tracks: every family (tabddpm, ctgan, tvae; ddpm, edm, sngan) is
# trained by one rule, behind one interface (diffshare.generators), and sampled by its track's.


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
    script:
        "../scripts/train_generator.py"


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
