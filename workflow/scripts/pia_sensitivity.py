import pandas as pd

from diffshare.attacks.pia.calibration import Calibration, family_sensitivity
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_csv

# Every target's raw estimates calibrated with every family's shadows at its seed, and with
# their span: what a wrong guess of the family costs, and what not knowing it costs.
with log_to(snakemake.log[0]) as log:
    estimates = pd.concat(
        [read_parquet(path) for path in snakemake.input.estimates], ignore_index=True
    )
    calibrations = {}
    for path in snakemake.input.calibrations:
        entry = read_json(path)
        calibrations[(entry["generator"], entry["seed"])] = Calibration.from_dict(entry)
    table = family_sensitivity(estimates, calibrations, snakemake.params.delta)
    largest = table[table["n_queries"] == table["n_queries"].max()]
    summary = largest.groupby(["generator", "calibrated_with"])[["coverage", "abs_error"]].mean()
    log.info("coverage and error at the largest query count:\n%s", summary.to_string())
    write_csv(table, snakemake.output[0])
