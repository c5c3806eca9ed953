from diffshare.defenses.audit import reference_rows
from diffshare.logs import log_to
from diffshare.storage import read_parquet, write_parquet

with log_to(snakemake.log[0]) as log:
    test = read_parquet(snakemake.input.test)
    rows = reference_rows(len(test), snakemake.params.size, seed=int(snakemake.wildcards.seed))
    log.info("the receiver's reference: %d of the %d test rows", len(rows), len(test))
    write_parquet(test.iloc[rows], snakemake.output.reference)
