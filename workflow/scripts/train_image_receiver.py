import torch

from diffshare.data.images import ImageSet
from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import write_receiver
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
    n_train = len(train)
    identity = {
        "dataset": snakemake.wildcards.dataset,
        "source": snakemake.wildcards.source,
        "classifier": "cnn",
        "seed": int(snakemake.wildcards.seed),
    }
    record = write_receiver(predictions, identity, evaluate(predictions), n_train, snakemake.output)
    log.info("%s", record)
