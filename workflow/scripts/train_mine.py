from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks import adapter

# Both tracks: MINE on a table's encoded features (with its schema), or on images' features.
with log_to(snakemake.log[0]) as log:
    track = adapter(snakemake.params.track)
    mine = dict(snakemake.params.mine)
    if snakemake.params.track == "tabular":
        schema = TableSchema.from_dict(read_json(snakemake.input.schema))
        mine.update(schema=schema, include_sensitive=mine.pop("include_sensitive"))
    else:
        mine["features"] = read_parquet(snakemake.input.features).to_numpy()
    terms, record = track.mine_row_terms(
        track.read_set(snakemake.input.train), seed=int(snakemake.wildcards.seed), **mine
    )
    log.info("%s", record)
    write_parquet(terms, snakemake.output.terms)
    write_json(record, snakemake.output.record)
