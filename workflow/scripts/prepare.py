from diffshare.data.tabular import DatasetSpec, prepare, summarize
from diffshare.logs import log_to
from diffshare.storage import write_json, write_parquet

with log_to(snakemake.log[0]) as log:
    spec = DatasetSpec.from_config(
        snakemake.wildcards.dataset, snakemake.params.entry, base_dir=snakemake.params.root
    )
    train, test, schema = prepare(spec)
    summary = {"train": summarize(train, schema), "test": summarize(test, schema)}
    log.info("prepared %s: %s", spec.name, summary)
    write_parquet(train, snakemake.output.train)
    write_parquet(test, snakemake.output.test)
    write_json(schema.to_dict(), snakemake.output.schema)
    write_json(summary, snakemake.output.summary)
