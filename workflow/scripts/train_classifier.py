from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_parquet
from diffshare.tracks.tabular import receiver_predictions

with log_to(snakemake.log[0]):
    predictions = receiver_predictions(
        read_parquet(snakemake.input.train),
        read_parquet(snakemake.input.test),
        schema=TableSchema.from_dict(read_json(snakemake.input.schema)),
        classifier=snakemake.wildcards.classifier,
        params=snakemake.params.classifier_params,
        seed=int(snakemake.wildcards.seed),
        use_sensitive=snakemake.params.use_sensitive,
    )
    write_parquet(predictions, snakemake.output.predictions)
