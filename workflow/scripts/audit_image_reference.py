from diffshare.data.images import ImageSet
from diffshare.defenses.audit import reference_rows
from diffshare.logs import log_to

with log_to(snakemake.log[0]) as log:
    test = ImageSet.load(snakemake.input.test)
    rows = reference_rows(len(test), snakemake.params.size, seed=int(snakemake.wildcards.seed))
    log.info("the receiver's reference: %d of the %d test images", len(rows), len(test))
    test.subset(rows).save(snakemake.output.reference)
