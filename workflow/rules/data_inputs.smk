# Functions used by the rules prepare and prepare_images (workflow/rules/data.smk).


def dataset_entry(wildcards):
    """The catalogue entry of the requested dataset; an unknown name stops the run."""
    if kind(wildcards) == "image":
        return image_dataset_config(config, wildcards.dataset)
    return dataset_config(config, wildcards.dataset)


def dataset_params(wildcards):
    """The dataset entry as `prepare` params: canonical, without the free-text description."""
    entry = dataset_entry(wildcards)
    entry.pop("description", None)  # editing prose must not rerun anything
    return canonical(entry)


def raw_files(wildcards):
    """The raw files of a dataset, so that replacing one reruns its preparation (an image
    dataset read from a folder has none). A catalogue path relative to the workflow's root is
    given relative to the working directory, so that a checkout moved or copied with its
    results/ keeps the same inputs and reruns nothing; an absolute path stays as it is. (The
    scripts resolve the catalogue's paths at run time, from their own location.)"""
    entry = dataset_entry(wildcards)
    if kind(wildcards) == "image":
        files = (
            [entry["file"]] if entry.get("folder") is None and entry.get("file") else []
        )
    else:
        files = entry["files"].values()
    return [
        (
            item["path"]
            if os.path.isabs(item["path"])
            else os.path.relpath(os.path.join(ROOT, item["path"]))
        )
        for item in files
    ]
