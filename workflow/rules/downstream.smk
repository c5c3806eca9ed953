rule train_classifier:
    """Train a receiver classifier on a table and predict the real test split."""
    input:
        train=training_table,
        test="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        predictions="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/predictions.parquet",
    log:
        "logs/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/train.log",
    benchmark:
        "results/benchmarks/train_classifier/{dataset}/{source}/classifier~{classifier}/seed~{seed}.tsv"
    conda:
        CONDA_ENV
    params:
        use_sensitive=config["downstream"]["use_sensitive"],
        classifier_params=classifier_params,
    script:
        "../scripts/train_classifier.py"


rule evaluate_fairness:
    """Accuracy and fairlearn group-fairness metrics of a classifier's test predictions."""
    input:
        predictions=rules.train_classifier.output.predictions,
        train=training_table,
    output:
        metrics="results/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/metrics.json",
    log:
        "logs/downstream/{dataset}/{source}/classifier~{classifier}/seed~{seed}/evaluate.log",
    conda:
        CONDA_ENV
    params:
        use_sensitive=config["downstream"]["use_sensitive"],
    script:
        "../scripts/evaluate_fairness.py"
