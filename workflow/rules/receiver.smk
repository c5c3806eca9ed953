# The receiver's classifiers, trained on real or synthetic data and scored on the real test
# split with fairlearn: scikit-learn classifiers on tables, the paper's CNN on images.


rule train_classifier:
    """Train a receiver classifier on a table, predict the real test split, and score the
    predictions (accuracy and fairlearn's group-fairness metrics) in the same job."""
    input:
        train=receiver_training_set,
        test="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        predictions="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/predictions.parquet",
        metrics="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/metrics.json",
    log:
        "logs/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_classifier/{dataset}/{source}/classifier~{classifier}/seed~{seed}.tsv"
    wildcard_constraints:
        classifier="logreg|hgb|mlp",
    conda:
        CONDA_ENV
    params:
        use_sensitive=config["downstream"]["use_sensitive"],
        classifier_params=classifier_params,
    script:
        "../scripts/train_classifier.py"


rule train_image_receiver:
    """The receiver's CNN trained on images (samples or the real pool), scored on the real test set."""
    input:
        train=receiver_training_set,
        test="results/data/{dataset}/test.npz",
    output:
        predictions="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/predictions.parquet",
        metrics="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/metrics.json",
    log:
        "logs/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_image_receiver/{dataset}/{source}/classifier~{classifier}/seed~{seed}.tsv"
    wildcard_constraints:
        classifier="cnn",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        cnn=canonical(config["image"]["receiver"]),
        device=config["generator"]["device"],
    script:
        "../scripts/train_image_receiver.py"


rule baseline:
    """Classifiers trained on the sharer's real training split: the reference row of every table."""
    input:
        baseline_metrics,
    output:
        report(
            "results/baseline/{dataset}.csv",
            caption="../report/baseline.rst",
            category="Baseline",
        ),
    log:
        "logs/baseline/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_metrics.py"


rule utility:
    """Classifiers trained on real rows against the same trained on the shared model's samples."""
    input:
        real=baseline_metrics,
        synthetic=utility_synthetic_metrics,
        fidelity=utility_fidelity,
    output:
        report(
            "results/utility/{dataset}.csv",
            caption="../report/utility.rst",
            category="Utility",
        ),
    log:
        "logs/utility/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/utility.py"
