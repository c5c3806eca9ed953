from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks import adapter

# Both tracks: a table comes with its schema and its subset goes to output.table; an image
# pool's subset goes to output.images.
with log_to(snakemake.log[0]) as log:
    tabular = snakemake.params.track == "tabular"
    track = adapter(snakemake.params.track)
    inputs = {"schema": TableSchema.from_dict(read_json(snakemake.input.schema))} if tabular else {}
    subset, rows, record = track.select(
        snakemake.wildcards.attack,
        track.read_set(snakemake.input.train),
        read_parquet(snakemake.input.terms),
        alpha=float(snakemake.wildcards.alpha),
        seed=int(snakemake.wildcards.seed),
        **snakemake.params.selection,
        **inputs,
    )
    record = {"dataset": snakemake.wildcards.dataset, **record}
    log.info("%s", record)
    track.write_set(subset, snakemake.output.table if tabular else snakemake.output.images)
    write_parquet(rows, snakemake.output.rows)
    write_json(record, snakemake.output.record)
