import pyarrow.parquet as pq

from diffshare.evaluation.fairness import evaluate
from diffshare.logs import log_to
from diffshare.reporting.tables import metrics_record
from diffshare.storage import read_parquet, write_json

with log_to(snakemake.log[0]) as log:
    metrics = evaluate(read_parquet(snakemake.input.predictions))
    identity = {
        "dataset": snakemake.wildcards.dataset,
        "source": snakemake.wildcards.source,
        "classifier": snakemake.wildcards.classifier,
        "seed": int(snakemake.wildcards.seed),
        "use_sensitive": snakemake.params.use_sensitive,
    }
    n_train = pq.read_metadata(snakemake.input.train).num_rows
    record = metrics_record(identity, metrics, n_train=n_train)
    log.info("%s", record)
    write_json(record, snakemake.output.metrics)
