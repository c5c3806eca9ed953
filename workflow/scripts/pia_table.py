import pandas as pd

from diffshare.attacks.pia.calibration import Calibration, calibrate
from diffshare.logs import log_to
from diffshare.reporting.tables import generator_comparison, pia_table
from diffshare.storage import read_json, read_parquet, write_csv

# Every model's raw estimates and, when the sweep lists the calibrated attack, each family's
# calibration at each seed turning them into calibrated estimates with prediction intervals.
with log_to(snakemake.log[0]) as log:
    estimates = pd.concat(
        [read_parquet(path) for path in snakemake.input.estimates], ignore_index=True
    )
    calibrated = []
    for path in snakemake.input.calibrations:
        entry = read_json(path)
        calibration = Calibration.from_dict(entry)
        target = estimates[
            (estimates["generator"] == entry["generator"]) & (estimates["seed"] == entry["seed"])
        ]
        calibrated.append(calibrate(target, calibration, snakemake.params.delta))
    table = pia_table(pd.concat([estimates, *calibrated], ignore_index=True),
                      delta=snakemake.params.delta)  # fmt: skip
    comparison = generator_comparison(table, snakemake.params.reference)
    log.info("abs_error at the largest query count:\n%s", comparison.to_string())
    write_csv(table, snakemake.output[0])
