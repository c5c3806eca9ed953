from diffshare.attacks.pia.property import Property
from diffshare.data.tabular import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks.tabular import estimate_property

with log_to(snakemake.log[0]) as log:
    settings = snakemake.params.pia
    subset = read_json(snakemake.input.subset)
    estimates, record = estimate_property(
        read_parquet(snakemake.input.samples),
        read_parquet(snakemake.input.auxiliary),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        Property.from_config(settings["property"]),
        attacks=settings["attacks"],
        queries=settings["queries"],
        repeats=settings["repeats"],
        classifier=settings["classifier"],
        params=settings["params"],
        holdout=settings["holdout"],
        seed=int(snakemake.wildcards.seed),
    )
    keys = {
        "dataset": snakemake.wildcards.dataset,
        "generator": snakemake.wildcards.generator,
        "true_ratio": subset["true_ratio"],
        "seed": int(snakemake.wildcards.seed),
    }
    estimates = estimates.assign(**keys)
    log.info("%s", record)
    write_parquet(estimates, snakemake.output.estimates)
    write_json({**keys, **record}, snakemake.output.record)
