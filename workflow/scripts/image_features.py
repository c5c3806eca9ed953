import torch

from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import write_json, write_parquet
from diffshare.tracks.image import extract_features, features_table

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.features
    train, test, record = extract_features(
        ImageSet.load(snakemake.input.train),
        ImageSet.load(snakemake.input.test),
        clip=settings["clip"],
        cnn=settings["cnn"],
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    log.info("%s", record)
    write_parquet(features_table(train), snakemake.output.train)
    write_parquet(features_table(test), snakemake.output.test)
    write_json(record, snakemake.output.record)
