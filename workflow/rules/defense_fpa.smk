# The receiver's defense against fairness poisoning, both tracks: an audit of every shared
# model's samples against a small trusted reference of real rows (or images), and fairness
# mitigations around the receiver's classifiers (the CNN on images). Named targets, not in the
# default run:
#   results/audit/{dataset}.csv, results/audit/{dataset}_summary.csv,
#   results/defense/fpa/{dataset}.csv, results/defense/fpa/{dataset}.png
# The per-model jobs have a rule per track (tables: audit_reference, audit_samples, mitigate;
# images: their *_images twins); the tables and the figure are written once for both.


rule audit_reference:
    """The receiver's trusted reference: defense.audit.reference_size rows of the test split."""
    input:
        test="results/data/{dataset}/test.parquet",
    output:
        reference="results/audit/{dataset}/seed~{seed}/reference.parquet",
    log:
        "logs/audit/{dataset}/seed~{seed}/reference.log",
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        size=config["defense"]["audit"]["reference_size"],
    script:
        "../scripts/audit_reference.py"


rule audit_samples:
    """Audit one shared model's samples: S-Y statistics, the one-sided association test
    (flagged) and the two-sample test (distribution_shift) against the reference."""
    input:
        samples=tabular_fpa_samples,
        reference=rules.audit_reference.output.reference,
        schema="results/data/{dataset}/schema.json",
    output:
        record="results/audit/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/audit.json",
    log:
        "logs/audit/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/audit_samples/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
    conda:
        CONDA_ENV
    params:
        audit=audit_settings,
        train_rows=audit_train_rows,
    script:
        "../scripts/audit_samples.py"


rule audit:
    """One row per shared model of the FPA sweep, and the flag and distribution-shift rates per
    attack and alpha."""
    input:
        records=audit_records,
    output:
        table=report(
            "results/audit/{dataset}.csv",
            caption="../report/audit.rst",
            category="Defense against fairness poisoning",
        ),
        summary=report(
            "results/audit/{dataset}_summary.csv",
            caption="../report/audit_summary.rst",
            category="Defense against fairness poisoning",
        ),
    log:
        "logs/audit/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/audit_table.py"


rule mitigate:
    """One mitigation of one receiver classifier trained on one shared model's samples."""
    input:
        train=tabular_fpa_samples,
        test="results/data/{dataset}/test.parquet",
        schema="results/data/{dataset}/schema.json",
    output:
        predictions="results/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/predictions.parquet",
        metrics="results/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/metrics.json",
    log:
        "logs/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}.log",
    benchmark:
        "results/benchmarks/mitigate/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}.tsv"
    wildcard_constraints:
        dataset=TABULAR,
        classifier="logreg|hgb|mlp",
        mitigation="reweighing|exponentiated_gradient|threshold_optimizer",
    conda:
        CONDA_ENV
    params:
        use_sensitive=config["downstream"]["use_sensitive"],
        classifier_params=classifier_params,
        settings=mitigation_settings,
    script:
        "../scripts/mitigate.py"


rule defense_fpa:
    """One row per shared model, classifier and mitigation (none included), with losses against
    the unmitigated receiver on the unpoisoned model."""
    input:
        unmitigated=defense_fpa_unmitigated,
        mitigated=defense_fpa_mitigated,
    output:
        report(
            "results/defense/fpa/{dataset}.csv",
            caption="../report/defense_fpa.rst",
            category="Defense against fairness poisoning",
        ),
    log:
        "logs/defense/fpa/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/defense_fpa_table.py"


rule plot_defense_fpa:
    """Fairness loss and accuracy loss against alpha, with and without each mitigation."""
    input:
        "results/defense/fpa/{dataset}.csv",
    output:
        report(
            "results/defense/fpa/{dataset}.png",
            caption="../report/defense_fpa_figure.rst",
            category="Defense against fairness poisoning",
        ),
    log:
        "logs/defense/fpa/{dataset}_plot.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/defense_fpa_plot.py"


# -- images: s read off the samples (Colored MNIST: the colour; else a CNN trained on the
# reference images), the receiver's CNN under each mitigation.


rule audit_reference_images:
    """The receiver's trusted reference: defense.audit.reference_size images of the test split."""
    input:
        test="results/data/{dataset}/test.npz",
    output:
        reference="results/audit/{dataset}/seed~{seed}/reference.npz",
    log:
        "logs/audit/{dataset}/seed~{seed}/reference.log",
    wildcard_constraints:
        dataset=IMAGES,
    conda:
        CONDA_ENV
    params:
        size=config["defense"]["audit"]["reference_size"],
    script:
        "../scripts/audit_image_reference.py"


rule audit_samples_images:
    """Audit one shared image model's samples: s read off the pixels, S-Y statistics, the
    association test (flagged) and the two-sample test (distribution_shift) against the
    reference images."""
    input:
        samples=image_fpa_samples,
        reference=rules.audit_reference_images.output.reference,
    output:
        record="results/audit/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/audit.json",
    log:
        "logs/audit/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/audit_samples_images/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}.tsv"
    wildcard_constraints:
        dataset=IMAGES,
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        audit=audit_settings,
        train_rows=audit_train_rows,
        sensitive=image_sensitive_params,
        device=config["generator"]["device"],
    script:
        "../scripts/audit_image_samples.py"


rule mitigate_images:
    """One mitigation of the receiver's CNN trained on one shared image model's samples."""
    input:
        unpack(image_mitigation_inputs),
    output:
        predictions="results/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/predictions.parquet",
        metrics="results/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/metrics.json",
    log:
        "logs/defense/fpa/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}.log",
    benchmark:
        "results/benchmarks/mitigate_images/{dataset}/attack~{attack}/alpha~{alpha}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}.tsv"
    wildcard_constraints:
        dataset=IMAGES,
        classifier="cnn",
        mitigation="reweighing|exponentiated_gradient|threshold_optimizer",
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        cnn=canonical(config["image"]["receiver"]),
        settings=mitigation_settings,
        sensitive=image_sensitive_params,
        device=config["generator"]["device"],
    script:
        "../scripts/defense_fpa_mitigate_images.py"
