import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from diffshare.data.schema import TableSchema
from diffshare.defenses.mitigation import mitigated_predictions
from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import write_receiver
from diffshare.storage import read_json, read_parquet

# One thread per job: OpenMP threads spinning on a busy machine cost more than they gain on
# these small fits, and the workflow runs many such jobs side by side.
with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    wildcards = snakemake.wildcards
    predictions = mitigated_predictions(
        wildcards.mitigation,
        wildcards.classifier,
        read_parquet(snakemake.input.train),
        read_parquet(snakemake.input.test),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        params=snakemake.params.classifier_params,
        settings=snakemake.params.settings,
        use_sensitive=snakemake.params.use_sensitive,
        seed=int(wildcards.seed),
    )
    n_train = pq.read_metadata(snakemake.input.train).num_rows
    identity = {
        "dataset": wildcards.dataset,
        "source": f"synthetic/attack~{wildcards.attack}/alpha~{wildcards.alpha}",
        "attack": wildcards.attack,
        "alpha": float(wildcards.alpha),
        "classifier": wildcards.classifier,
        "mitigation": wildcards.mitigation,
        "seed": int(wildcards.seed),
        "use_sensitive": snakemake.params.use_sensitive,
    }
    record = write_receiver(predictions, identity, evaluate(predictions), n_train, snakemake.output)
    log.info("%s", record)
