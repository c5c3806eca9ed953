from pathlib import Path

from diffshare.data.tabular import DatasetSpec, prepare, summarize
from diffshare.logs import log_to
from diffshare.storage import write_json, write_parquet

# The catalogue's relative paths start at the workflow's root folder, found here at run time
# (two folders above this script) rather than passed as a param: a moved or copied checkout
# then has the same params and reruns nothing.
root = Path(snakemake.scriptdir, "..", "..").resolve()

with log_to(snakemake.log[0]) as log:
    spec = DatasetSpec.from_config(
        snakemake.wildcards.dataset, snakemake.params.entry, base_dir=root
    )
    train, test, schema = prepare(spec)
    summary = {"train": summarize(train, schema), "test": summarize(test, schema)}
    log.info("prepared %s: %s", spec.name, summary)
    write_parquet(train, snakemake.output.train)
    write_parquet(test, snakemake.output.test)
    write_json(schema.to_dict(), snakemake.output.schema)
    write_json(summary, snakemake.output.summary)
