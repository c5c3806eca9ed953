# Functions used by the rules of workflow/rules/generator.smk (all five).


IMAGE_GENERATORS = [name for name, f in FAMILIES.items() if f.modality == "image"]


def subset_files(wildcards):
    """The sharer's data a shared model is trained on, with what its track needs beside it:
    `full` is the whole training split, `attack~<attack>/alpha~<alpha>` a subset chosen by
    `select_subset`, `ratio~<ratio>` a set at an exact property ratio (`sharer_set`). A PIA
    table comes with its own schema (it may leave the property column out); image sets with the
    dataset's summary (the number of classes)."""
    data = f"results/data/{wildcards.dataset}"
    folder = (
        f"results/subsets/{wildcards.dataset}/{wildcards.subset}/seed~{wildcards.seed}"
    )
    if kind(wildcards) == "image":
        train = (
            f"{folder}/images.npz"
            if wildcards.subset != "full"
            else f"{data}/train.npz"
        )
        return {"train": train, "summary": f"{data}/summary.json"}
    if wildcards.subset == "full":
        return {"train": f"{data}/train.parquet", "schema": f"{data}/schema.json"}
    schema = f"{folder}/schema.json" if wildcards.subset.startswith(PIA_SETS) else None
    return {
        "train": f"{folder}/table.parquet",
        "schema": schema or f"{data}/schema.json",
    }


def generator_settings(wildcards):
    """The settings of the `{generator}` family on its `{subset}` (family_settings)."""
    return family_settings(wildcards.generator, wildcards.subset)


def matmul_precision(wildcards):
    """generator.table_matmul_precision for a table model; image models keep torch's default."""
    if kind(wildcards) == "image":
        return "highest"
    return config["generator"]["table_matmul_precision"]


def generator_resources(wildcards):
    """Runtime (minutes) and memory (MB) of a generator job by its family's modality."""
    return (240, 16000) if wildcards.generator in IMAGE_GENERATORS else (120, 8000)


def n_synthetic(wildcards):
    """Rows the receiver draws from a table model: for PIA, one disjoint batch per repeat of
    the largest query."""
    if wildcards.subset.startswith(PIA_SETS):
        return max(config["pia"]["queries"]) * config["pia"]["repeats"]
    return config["generator"]["n_synthetic"]


def image_sampling_params(wildcards):
    """PIA sets (ratio~) are sampled unconditionally, one disjoint batch per repeat of the
    largest query; FPA subsets conditionally, balanced over y."""
    image = config["image"]
    if wildcards.subset.startswith(PIA_SETS):
        n = max(image["pia"]["queries"]) * image["pia"]["repeats"]
        conditional = False
    else:
        n, conditional = image["fpa"]["n_synthetic"], True
    return canonical(
        {"n": n, "conditional": conditional, "samplers": image["samplers"]}
    )
