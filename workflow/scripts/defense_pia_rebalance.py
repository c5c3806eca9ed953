from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.defenses.pia import property_indicator, rebalance_table
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet

# The sharer knows its rows' property even when its model never sees the column: then it is read
# from the training split by row_id.
with log_to(snakemake.log[0]) as log:
    prop = Property.from_config(snakemake.params.property)
    table = read_parquet(snakemake.input.table)
    schema = TableSchema.from_dict(read_json(snakemake.input.schema))
    pool = None if prop.column in table.columns else read_parquet(snakemake.input.train)
    rebalanced, record = rebalance_table(
        table,
        property_indicator(table, pool, prop),
        schema=schema,
        decoy=float(snakemake.wildcards.decoy),
        seed=int(snakemake.wildcards.seed),
    )
    record = {
        "dataset": snakemake.wildcards.dataset,
        "ratio": float(snakemake.wildcards.ratio),
        **record,
    }
    log.info("%s", record)
    write_parquet(rebalanced, snakemake.output.table)
    write_json(schema.to_dict(), snakemake.output.schema)
    write_json(record, snakemake.output.record)
