from diffshare.data.tabular import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks.tabular import mine_row_terms

with log_to(snakemake.log[0]) as log:
    mine = dict(snakemake.params.mine)
    include_sensitive = mine.pop("include_sensitive")
    terms, record = mine_row_terms(
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        include_sensitive=include_sensitive,
        seed=int(snakemake.wildcards.seed),
        **mine,
    )
    log.info("%s", record)
    write_parquet(terms, snakemake.output.terms)
    write_json(record, snakemake.output.record)
