# Functions used by audit_samples*, audit, mitigate* and defense_fpa (workflow/rules/defense_fpa.smk).


def defended_dataset(dataset):
    """Stop the run, naming the dataset, unless it has a fairness poisoning sweep (an image
    dataset needs a sensitive attribute): the audit and the mitigations run on its models.
    """
    if not has_fpa(dataset):
        fix = (
            f"set image_datasets.{dataset}.sensitive"
            if dataset_kind(config, dataset) == "image"
            else "fpa.alphas is empty"
        )
        raise ValueError(
            f"the receiver's audit and mitigations run on the FPA sweep's models; dataset "
            f"{dataset!r} has none ({fix})"
        )


def audit_train_rows(wildcards):
    """The rows (images) each shared model of the FPA sweep was trained on (fpa.subset_size;
    image.fpa.subset_size): the training rows' term of the audit's null variance."""
    return int(fpa_settings(wildcards)["subset_size"])


def audit_settings(wildcards):
    """defense.audit without reference_size (the reference rows are audit_reference's output)
    and image_sensitive (image_sensitive_params): the keyword arguments of the audit
    (level, tests, n_bootstrap, confidence, classifier), passed on as they are."""
    audit = dict(config["defense"]["audit"])
    audit.pop("reference_size")
    audit.pop("image_sensitive", None)
    return canonical(audit)


def audit_records(wildcards):
    """One audit per shared model of the FPA sweep: every subset and seed."""
    defended_dataset(wildcards.dataset)
    return expand(
        "results/audit/{dataset}/{subset}/seed~{seed}/audit.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(wildcards.dataset),
        seed=SEEDS,
    )


def mitigation_settings(wildcards):
    """The mitigation's own settings (defense.<mitigation>), {} where it has none."""
    return canonical(config["defense"].get(wildcards.mitigation, {}))


def defended_classifiers(dataset):
    """The receivers of the FPA sweep: fpa.classifiers on tables, the CNN on images."""
    if dataset_kind(config, dataset) == "image":
        return ["cnn"]
    return config["fpa"]["classifiers"]


def defense_fpa_unmitigated(wildcards):
    """The FPA sweep's receivers on every shared model: the `none` rows."""
    defended_dataset(wildcards.dataset)
    sources = [f"synthetic/{subset}" for subset in fpa_subsets(wildcards.dataset)]
    return downstream_metrics(
        wildcards.dataset, sources, defended_classifiers(wildcards.dataset)
    )


def defense_fpa_mitigated(wildcards):
    """Every mitigation in defense.mitigations of every FPA receiver."""
    defended_dataset(wildcards.dataset)
    return expand(
        "results/defense/fpa/{dataset}/{subset}/seed~{seed}/classifier~{classifier}/mitigation~{mitigation}/metrics.json",
        dataset=wildcards.dataset,
        subset=fpa_subsets(wildcards.dataset),
        seed=SEEDS,
        classifier=defended_classifiers(wildcards.dataset),
        mitigation=config["defense"]["mitigations"],
    )


def tabular_fpa_samples(wildcards):
    """The receiver's rows of one shared table model of the FPA sweep (fpa.generator)."""
    return (
        f"results/samples/{wildcards.dataset}/{config['fpa']['generator']}/"
        f"attack~{wildcards.attack}/alpha~{wildcards.alpha}/seed~{wildcards.seed}/samples.parquet"
    )


def image_fpa_samples(wildcards):
    """The receiver's samples of one shared image model of the FPA sweep (image.fpa.generator)."""
    generator = config["image"]["fpa"]["generator"]
    return (
        f"results/samples/{wildcards.dataset}/{generator}/attack~{wildcards.attack}/"
        f"alpha~{wildcards.alpha}/seed~{wildcards.seed}/samples.npz"
    )


def image_sensitive_reader(dataset):
    """How the receiver reads s off an image dataset's samples (defense.audit.image_sensitive;
    auto: the colour on Colored MNIST, else a CNN trained on the reference images)."""
    from diffshare.defenses.image import sensitive_reader

    source = image_dataset_config(config, dataset)["source"]
    return sensitive_reader(config["defense"]["audit"]["image_sensitive"], source)


def image_sensitive_params(wildcards):
    """The reader of s and, for the classifier, its CNN's settings (image.receiver)."""
    reader = image_sensitive_reader(wildcards.dataset)
    cnn = config["image"]["receiver"] if reader == "classifier" else {}
    return canonical({"reader": reader, "cnn": cnn})


def image_mitigation_inputs(wildcards):
    """The samples and the real test images, and the reference images where s is read by a
    classifier trained on them."""
    inputs = {
        "train": image_fpa_samples(wildcards),
        "test": f"results/data/{wildcards.dataset}/test.npz",
    }
    if image_sensitive_reader(wildcards.dataset) == "classifier":
        inputs["reference"] = (
            f"results/audit/{wildcards.dataset}/seed~{wildcards.seed}/reference.npz"
        )
    return inputs
