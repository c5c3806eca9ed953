from diffshare.data.image_catalogue import prepare_images
from diffshare.logs import log_to
from diffshare.storage import write_json

with log_to(snakemake.log[0]) as log:
    train, test, summary = prepare_images(
        snakemake.wildcards.dataset, snakemake.params.entry, snakemake.params.root
    )
    log.info("%s", summary)
    train.save(snakemake.output.train)
    test.save(snakemake.output.test)
    write_json(summary, snakemake.output.summary)
