from diffshare.data.schema import TableSchema
from diffshare.defenses.pia import served_utility
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

# The label task on the served rows (defended, or the undefended sweep's for `none`).
with log_to(snakemake.log[0]) as log:
    utility = served_utility(
        read_parquet(snakemake.input.samples),
        read_parquet(snakemake.input.test),
        schema=TableSchema.from_dict(read_json(snakemake.input.schema)),
        params=snakemake.params.classifiers,
        seed=int(snakemake.wildcards.seed),
        use_sensitive=snakemake.params.use_sensitive,
    )
    keys = {
        "dataset": snakemake.wildcards.dataset,
        "defense": snakemake.wildcards.defense,
        "setting": snakemake.wildcards.setting,
        "generator": snakemake.wildcards.generator,
        "true_ratio": read_json(snakemake.input.subset)["true_ratio"],
        "seed": int(snakemake.wildcards.seed),
    }
    log.info("%s", {**keys, **utility})
    write_json({**keys, **utility}, snakemake.output.utility)
