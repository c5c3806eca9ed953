import pyarrow.parquet as pq

from diffshare.data.schema import TableSchema
from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import write_receiver
from diffshare.storage import read_json, read_parquet
from diffshare.tracks.tabular import receiver_predictions

# Trained and scored in one job: a second job per receiver cost a process start and the
# imports of scikit-learn and fairlearn to score one file of predictions.
with log_to(snakemake.log[0]) as log:
    wildcards = snakemake.wildcards
    predictions = receiver_predictions(
        read_parquet(snakemake.input.train),
        read_parquet(snakemake.input.test),
        schema=TableSchema.from_dict(read_json(snakemake.input.schema)),
        classifier=wildcards.classifier,
        params=snakemake.params.classifier_params,
        seed=int(wildcards.seed),
        use_sensitive=snakemake.params.use_sensitive,
    )
    identity = {
        "dataset": wildcards.dataset,
        "source": wildcards.source,
        "classifier": wildcards.classifier,
        "seed": int(wildcards.seed),
        "use_sensitive": snakemake.params.use_sensitive,
    }
    n_train = pq.read_metadata(snakemake.input.train).num_rows
    record = write_receiver(predictions, identity, evaluate(predictions), n_train, snakemake.output)
    log.info("%s", record)
