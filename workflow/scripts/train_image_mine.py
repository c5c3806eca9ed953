from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import read_parquet, write_json, write_parquet
from diffshare.tracks.image import image_mine_terms

with log_to(snakemake.log[0]) as log:
    terms, record = image_mine_terms(
        read_parquet(snakemake.input.features).to_numpy(),
        ImageSet.load(snakemake.input.train),
        seed=int(snakemake.wildcards.seed),
        **snakemake.params.mine,
    )
    log.info("%s", record)
    write_parquet(terms, snakemake.output.terms)
    write_json(record, snakemake.output.record)
