from diffshare.data.tabular import TableSchema
from diffshare.logs import log_to
from diffshare.receivers.tabular import train_and_predict
from diffshare.storage import read_json, read_parquet, write_parquet

with log_to(snakemake.log[0]):
    predictions = train_and_predict(
        snakemake.wildcards.classifier,
        read_parquet(snakemake.input.train),
        read_parquet(snakemake.input.test),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        use_sensitive=snakemake.params.use_sensitive,
        seed=int(snakemake.wildcards.seed),
        params=snakemake.params.classifier_params,
    )
    write_parquet(predictions, snakemake.output.predictions)
