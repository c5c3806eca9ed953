# Functions used by train_mine, select_subset/select_images and fpa (workflow/rules/fpa.smk).


def mine_inputs(wildcards):
    """MINE's pool: a table with its schema, or images with their features."""
    if kind(wildcards) == "image":
        features = (
            f"results/features/{wildcards.dataset}/seed~{wildcards.seed}/train.parquet"
        )
        return {"train": train_set(wildcards), "features": features}
    return {
        "train": train_set(wildcards),
        "schema": f"results/data/{wildcards.dataset}/schema.json",
    }


def mine_params(wildcards):
    return canonical(fpa_settings(wildcards)["mine"])


def selection_params(wildcards):
    fpa = fpa_settings(wildcards)
    keys = ("subset_size", "tolerance", "candidates_per_cell")
    return canonical({key: fpa[key] for key in keys})


def fpa_metrics(wildcards):
    """Every receiver of the sweep: fpa.classifiers on tables, the CNN on images (whose
    dataset needs a sensitive attribute)."""
    if kind(wildcards) == "image":
        if image_dataset_config(config, wildcards.dataset).get("sensitive") is None:
            raise ValueError(
                f"fairness poisoning on {wildcards.dataset!r} needs a sensitive attribute: "
                f"set image_datasets.{wildcards.dataset}.sensitive"
            )
        classifiers = ["cnn"]
    else:
        classifiers = config["fpa"]["classifiers"]
    sources = [f"synthetic/{subset}" for subset in fpa_subsets(wildcards.dataset)]
    return downstream_metrics(wildcards.dataset, sources, classifiers)
