import pandas as pd

from diffshare.defenses.pia_report import (
    DEFENSE_COLUMNS,
    LEAKAGE_COLUMNS,
    PRIVACY_COLUMNS,
    defense_table,
    leakage_table,
    with_skipped,
)
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_csv

# params.runs lists [defense, setting, generator, ratio, seed] in the order of the inputs; the
# undefended estimates (results/pia/estimates) carry no defense of their own. input.privacy
# holds the privacy.json of the dp_sgd runs, in the same order.
with log_to(snakemake.log[0]) as log:
    frames = []
    for (defense, setting, *_), path in zip(
        snakemake.params.runs, snakemake.input.estimates, strict=True
    ):
        frames.append(read_parquet(path).assign(defense=defense, setting=setting))
    utility = pd.DataFrame([read_json(path) for path in snakemake.input.utility])
    private = [i for i, run in enumerate(snakemake.params.runs) if run[0] == "dp_sgd"]
    keys = ["defense", "setting", "generator", "true_ratio", "seed"]
    privacy = pd.DataFrame(
        [
            {
                **utility.iloc[i][keys].to_dict(),
                **{c: read_json(path)[c] for c in PRIVACY_COLUMNS},
            }
            for i, path in zip(private, snakemake.input.privacy, strict=True)
        ],
        columns=[*keys, *PRIVACY_COLUMNS],
    )
    table = defense_table(pd.concat(frames, ignore_index=True), utility, privacy)
    leakage = leakage_table(table)
    log.info("leakage:\n%s", leakage.to_string())
    skipped = snakemake.params.skipped
    for defense, setting, generator, reason in skipped:
        log.info("skipped %s (%s) for %s: %s", defense, setting, generator, reason)
    write_csv(with_skipped(table, skipped, DEFENSE_COLUMNS), snakemake.output.table)
    write_csv(with_skipped(leakage, skipped, LEAKAGE_COLUMNS), snakemake.output.leakage)
