import torch

from diffshare.attacks.pia.property import Property
from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import read_json, write_json, write_parquet
from diffshare.tracks.image import estimate_image_property

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.pia
    estimates, record = estimate_image_property(
        ImageSet.load(snakemake.input.samples),
        ImageSet.load(snakemake.input.auxiliary),
        Property.from_config(settings["property"]),
        attacks=settings["attacks"],
        queries=settings["queries"],
        repeats=settings["repeats"],
        cnn=settings["cnn"],
        holdout=settings["holdout"],
        clip=settings["clip"],
        prompts=settings["prompts"],
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    keys = {
        "dataset": snakemake.wildcards.dataset,
        "generator": snakemake.wildcards.generator,
        "true_ratio": read_json(snakemake.input.subset)["true_ratio"],
        "seed": int(snakemake.wildcards.seed),
    }
    estimates = estimates.assign(**keys)
    log.info("%s", record)
    write_parquet(estimates, snakemake.output.estimates)
    write_json({**keys, **record}, snakemake.output.record)
