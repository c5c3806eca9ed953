import torch

from diffshare.data.images import ImageSet
from diffshare.defenses.audit import json_record
from diffshare.defenses.image import mitigated_image_predictions, read_sensitive
from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import metrics_record
from diffshare.storage import write_json, write_parquet

# The image track's `mitigate`: s of the samples read as the audit reads it (same reader,
# reference and seed), then the receiver's CNN under the mitigation.
with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    wildcards = snakemake.wildcards
    seed = int(wildcards.seed)
    sensitive = snakemake.params.sensitive
    train = ImageSet.load(snakemake.input.train)
    reference = snakemake.input.get("reference")
    s_train, _, reading = read_sensitive(
        sensitive["reader"],
        train,
        ImageSet.load(reference) if reference else None,
        params=sensitive["cnn"],
        seed=seed,
        device=snakemake.params.device,
    )
    predictions = mitigated_image_predictions(
        wildcards.mitigation,
        train,
        ImageSet.load(snakemake.input.test),
        s_train,
        params=snakemake.params.cnn,
        settings=snakemake.params.settings,
        seed=seed,
        device=snakemake.params.device,
    )
    identity = {
        "dataset": wildcards.dataset,
        "source": f"synthetic/attack~{wildcards.attack}/alpha~{wildcards.alpha}",
        "attack": wildcards.attack,
        "alpha": float(wildcards.alpha),
        "classifier": "cnn",
        "mitigation": wildcards.mitigation,
        "seed": seed,
    }
    record = metrics_record(identity, evaluate(predictions), n_train=len(train))
    record.update(reading)
    log.info("%s", record)
    write_parquet(predictions, snakemake.output.predictions)
    write_json(json_record(record), snakemake.output.metrics)
