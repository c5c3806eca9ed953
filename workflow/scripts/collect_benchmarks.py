from diffshare.logs import log_to
from diffshare.reporting.benchmarks import collect_benchmarks
from diffshare.storage import write_csv

with log_to(snakemake.log[0]) as log:
    table = collect_benchmarks(snakemake.params.folder)
    log.info("%d benchmark records, %.0f s in all", len(table), table["seconds"].sum())
    write_csv(table, snakemake.output[0])
