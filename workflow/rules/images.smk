# The image track: both attacks on image datasets (image_datasets in config/datasets.yaml).
# Every artifact lives under results/images/{dataset}/; the final tables are the shared
# results/fpa/{dataset}.csv and results/pia/{dataset}.csv (rules `fpa` and `pia`).


rule prepare_images:
    """Read an image dataset (checksummed bundled digits or a local folder) into 32x32 sets."""
    input:
        image_raw_files,
    output:
        train="results/images/{dataset}/train.npz",
        test="results/images/{dataset}/test.npz",
        summary="results/images/{dataset}/summary.json",
    log:
        "logs/images/{dataset}/prepare.log",
    conda:
        CONDA_ENV
    params:
        entry=image_params,
        root=ROOT,
    script:
        "../scripts/prepare_images.py"


rule image_features:
    """Features of the pool and test images: CLIP when configured, else a CNN's penultimate layer."""
    input:
        train="results/images/{dataset}/train.npz",
        test="results/images/{dataset}/test.npz",
    output:
        train="results/images/{dataset}/features/seed~{seed}/train.parquet",
        test="results/images/{dataset}/features/seed~{seed}/test.parquet",
        record="results/images/{dataset}/features/seed~{seed}/features.json",
    log:
        "logs/images/{dataset}/features/seed~{seed}.log",
    benchmark:
        "results/benchmarks/image_features/{dataset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        features=image_feature_params,
        device=config["generator"]["device"],
    script:
        "../scripts/image_features.py"


rule train_image_mine:
    """MINE on the pool's image features; T(x, 0) and T(x, 1) per image."""
    input:
        train="results/images/{dataset}/train.npz",
        features="results/images/{dataset}/features/seed~{seed}/train.parquet",
    output:
        terms="results/images/{dataset}/mine/seed~{seed}/row_terms.parquet",
        record="results/images/{dataset}/mine/seed~{seed}/mine.json",
    log:
        "logs/images/{dataset}/mine/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train_image_mine/{dataset}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    params:
        mine=image_mine_params,
    script:
        "../scripts/train_image_mine.py"


rule select_images:
    """The sharer's (possibly poisoned) image subset for one attack, alpha and seed."""
    input:
        train="results/images/{dataset}/train.npz",
        terms="results/images/{dataset}/mine/seed~{seed}/row_terms.parquet",
    output:
        images="results/images/{dataset}/subsets/attack~{attack}/alpha~{alpha}/seed~{seed}/images.npz",
        rows="results/images/{dataset}/subsets/attack~{attack}/alpha~{alpha}/seed~{seed}/rows.parquet",
        record="results/images/{dataset}/subsets/attack~{attack}/alpha~{alpha}/seed~{seed}/selection.json",
    log:
        "logs/images/{dataset}/subsets/attack~{attack}/alpha~{alpha}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/select_images/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    params:
        subset_size=config["image"]["fpa"]["subset_size"],
        tolerance=config["fpa"]["tolerance"],
        candidates_per_cell=config["fpa"]["candidates_per_cell"],
    script:
        "../scripts/select_images.py"


rule image_sharer_set:
    """The sharer's images at an exact property ratio, drawn from the pool."""
    input:
        train="results/images/{dataset}/train.npz",
    output:
        images="results/images/{dataset}/subsets/ratio~{ratio}/seed~{seed}/images.npz",
        record="results/images/{dataset}/subsets/ratio~{ratio}/seed~{seed}/subset.json",
    log:
        "logs/images/{dataset}/subsets/ratio~{ratio}/seed~{seed}.log",
    conda:
        CONDA_ENV
    params:
        property=image_property,
        subset_size=config["image"]["pia"]["subset_size"],
    script:
        "../scripts/image_sharer_set.py"


rule train_image_generator:
    """Train the shared image model (ddpm, edm diffusion; sngan baseline) on the sharer's images."""
    input:
        images=image_subset,
        summary="results/images/{dataset}/summary.json",
    output:
        model=directory(
            "results/images/{dataset}/generators/{generator}/{subset}/seed~{seed}/model"
        ),
    log:
        "logs/images/{dataset}/generators/{generator}/{subset}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_image_generator/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        generator="ddpm|edm|sngan",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=GPU,
        runtime=240,
        mem_mb=16000,
    params:
        model=image_generator_params,
        device=config["generator"]["device"],
        checkpoint_dir="results/images/{dataset}/checkpoints/{generator}/{subset}/seed~{seed}",
        checkpoint_every=config["generator"]["checkpoint_every"],
    script:
        "../scripts/train_image_generator.py"


rule sample_images:
    """The receiver's samples: balanced over y for fairness poisoning, unconditional for PIA."""
    input:
        model="results/images/{dataset}/generators/{generator}/{subset}/seed~{seed}/model",
    output:
        samples="results/images/{dataset}/samples/{generator}/{subset}/seed~{seed}/samples.npz",
        grid=report(
            "results/images/{dataset}/samples/{generator}/{subset}/seed~{seed}/samples.png",
            caption="../report/image_samples.rst",
            category="Image samples",
            subcategory="{dataset}",
        ),
        record="results/images/{dataset}/samples/{generator}/{subset}/seed~{seed}/sampling.json",
    log:
        "logs/images/{dataset}/generators/{generator}/{subset}/seed~{seed}/sample.log",
    benchmark:
        "results/benchmarks/sample_images/{dataset}/{generator}/{subset}/seed~{seed}.tsv"
    wildcard_constraints:
        generator="ddpm|edm|sngan",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    resources:
        gpu=GPU,
        runtime=120,
        mem_mb=16000,
    params:
        sampling=image_sampling_params,
        device=config["generator"]["device"],
    script:
        "../scripts/sample_images.py"


rule train_image_receiver:
    """The receiver's CNN trained on images (samples or the real pool), scored on the real test set."""
    input:
        train=image_training_set,
        test="results/images/{dataset}/test.npz",
    output:
        predictions="results/images/{dataset}/downstream/{source}/classifier~cnn/seed~{seed}/predictions.parquet",
        metrics="results/images/{dataset}/downstream/{source}/classifier~cnn/seed~{seed}/metrics.json",
    log:
        "logs/images/{dataset}/downstream/{source}/classifier~cnn/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train_image_receiver/{dataset}/{source}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        cnn=canonical(config["image"]["receiver"]),
        device=config["generator"]["device"],
    script:
        "../scripts/train_image_receiver.py"


rule estimate_image_property:
    """Every image PIA attack's estimates from one shared model's unconditional samples."""
    input:
        samples="results/images/{dataset}/samples/{generator}/ratio~{ratio}/seed~{seed}/samples.npz",
        subset="results/images/{dataset}/subsets/ratio~{ratio}/seed~{seed}/subset.json",
        auxiliary="results/images/{dataset}/test.npz",
    output:
        estimates="results/images/{dataset}/pia/{generator}/ratio~{ratio}/seed~{seed}/estimates.parquet",
        record="results/images/{dataset}/pia/{generator}/ratio~{ratio}/seed~{seed}/discriminator.json",
    log:
        "logs/images/{dataset}/pia/{generator}/ratio~{ratio}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/estimate_image_property/{dataset}/{generator}/ratio~{ratio}/seed~{seed}.tsv"
    wildcard_constraints:
        generator="ddpm|edm|sngan",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        pia=image_pia_params,
        device=config["generator"]["device"],
    script:
        "../scripts/estimate_image_property.py"
