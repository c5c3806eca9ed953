# How recognisable the image models' samples are: the confident share of a CNN judge trained on
# the real training images (diffshare.evaluation.image_quality), one table per image dataset.


rule sample_quality:
    """Per sample set: the share of samples the judge recognises, beside real test images'."""
    input:
        train="results/data/{dataset}/train.npz",
        test="results/data/{dataset}/test.npz",
        samples=quality_samples,
    output:
        report(
            "results/quality/{dataset}.csv",
            caption="../report/quality.rst",
            category="Image samples",
        ),
    log:
        "logs/quality/{dataset}.log",
    benchmark:
        "results/benchmarks/sample_quality/{dataset}.tsv"
    wildcard_constraints:
        dataset=IMAGES,
    conda:
        CONDA_ENV
    threads: config["generator"]["threads"]
    params:
        quality=quality_params,
    script:
        "../scripts/sample_quality.py"
