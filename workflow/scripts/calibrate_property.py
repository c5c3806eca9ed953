import pandas as pd

from diffshare.attacks.pia.calibration import fit_calibration
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

# One family's shadow models (one per share of the grid, all at this seed): their raw estimates
# of params.attack, each with its set's realised share and size, fitted into the calibration.
with log_to(snakemake.log[0]) as log:
    shadows = []
    for estimates, subset in zip(snakemake.input.estimates, snakemake.input.subsets, strict=True):
        record = read_json(subset)
        frame = read_parquet(estimates)
        shadows.append(frame.assign(true_ratio=record["true_ratio"], shadow_rows=record["size"]))
    calibration = fit_calibration(pd.concat(shadows, ignore_index=True), snakemake.params.attack)
    log.info("%s", calibration)
    keys = {"dataset": snakemake.wildcards.dataset, "generator": snakemake.wildcards.generator,
            "seed": int(snakemake.wildcards.seed)}  # fmt: skip
    write_json({**keys, **calibration.to_dict()}, snakemake.output[0])
