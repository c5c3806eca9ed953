from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, write_json, write_parquet
from diffshare.tracks import adapter

# Both tracks: params.pia is {property, attacks, queries, repeats, discriminator} (and for images
# clip, prompts); a table comes with its schema (input.schema), images with params.device.
with log_to(snakemake.log[0]) as log:
    settings = dict(snakemake.params.pia)
    track = adapter(snakemake.params.track)
    if snakemake.params.track == "tabular":
        settings["schema"] = TableSchema.from_dict(read_json(snakemake.input.schema))
    else:
        import torch  # the image track's discriminator is a CNN (a table's never needs torch)

        torch.set_num_threads(snakemake.threads)
        settings["device"] = snakemake.params.device
    estimates, record = track.estimate_property(
        track.read_set(snakemake.input.samples),
        track.read_set(snakemake.input.auxiliary),
        Property.from_config(settings.pop("property")),
        seed=int(snakemake.wildcards.seed),
        **settings,
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
