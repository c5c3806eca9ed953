import pandas as pd

from diffshare.logs import log_to
from diffshare.reporting.claims import claims_table, fpa_claims, pia_claims
from diffshare.storage import read_json, write_csv

# results/claims/{dataset}.csv: the paper's findings that this dataset's tables can test.
with log_to(snakemake.log[0]) as log:
    level = snakemake.params.level
    correction = snakemake.params.correction
    rows = []
    if "fpa" in snakemake.input.keys():
        selections = [read_json(path) for path in snakemake.input.selections]
        rows += fpa_claims(pd.read_csv(snakemake.input.fpa), selections, level, correction)
    if "pia" in snakemake.input.keys():
        rows += pia_claims(
            pd.read_csv(snakemake.input.pia),
            snakemake.params.delta,
            level,
            diffusion=snakemake.params.diffusion,
            correction=correction,
        )
    table = claims_table(rows, snakemake.wildcards.dataset, level, correction)
    log.info("verdicts (%s): %s", correction, table["verdict"].value_counts().to_dict())
    write_csv(table, snakemake.output[0])
