import torch

from diffshare.data.images import ImageSet
from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import metrics_record
from diffshare.storage import write_json, write_parquet
from diffshare.tracks.image import receiver_predictions

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    train = ImageSet.load(snakemake.input.train)
    predictions = receiver_predictions(
        train,
        ImageSet.load(snakemake.input.test),
        params=snakemake.params.cnn,
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    identity = {
        "dataset": snakemake.wildcards.dataset,
        "source": snakemake.wildcards.source,
        "classifier": "cnn",
        "seed": int(snakemake.wildcards.seed),
    }
    record = metrics_record(identity, evaluate(predictions), n_train=len(train))
    log.info("%s", record)
    write_parquet(predictions, snakemake.output.predictions)
    write_json(record, snakemake.output.metrics)
