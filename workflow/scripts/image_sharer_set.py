from diffshare.attacks.pia.property import Property
from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import write_json
from diffshare.tracks.image import image_sharer_set

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
