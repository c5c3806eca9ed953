from diffshare.image_track import image_sharer_set
from diffshare.images import ImageSet
from diffshare.io import write_json
from diffshare.logs import log_to
from diffshare.pia import Property

with log_to(snakemake.log[0]) as log:
    subset, record = image_sharer_set(
        ImageSet.load(snakemake.input.train),
        Property.from_config(snakemake.params.property),
        ratio=float(snakemake.wildcards.ratio),
        size=snakemake.params.subset_size,
        seed=int(snakemake.wildcards.seed),
    )
    log.info("%s", record)
    subset.save(snakemake.output.images)
    write_json(record, snakemake.output.record)
