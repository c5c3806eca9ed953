from diffshare.data.tabular import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet
from diffshare.tracks.tabular import select

with log_to(snakemake.log[0]) as log:
    rows, table, record = select(
        snakemake.wildcards.attack,
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        read_parquet(snakemake.input.terms),
        subset_size=snakemake.params.subset_size,
        alpha=float(snakemake.wildcards.alpha),
        seed=int(snakemake.wildcards.seed),
        tolerance=snakemake.params.tolerance,
        candidates_per_cell=snakemake.params.candidates_per_cell,
    )
    record = {"dataset": snakemake.wildcards.dataset, **record}
    log.info("%s", record)
    write_parquet(rows, snakemake.output.rows)
    write_parquet(table, snakemake.output.table)
    write_json(record, snakemake.output.record)
