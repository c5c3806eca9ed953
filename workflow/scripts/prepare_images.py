from pathlib import Path

from diffshare.data.image_catalogue import prepare_images
from diffshare.logs import log_to
from diffshare.storage import write_json

# Relative paths of the catalogue start at the workflow's root folder, found at run time (see
# prepare.py): no absolute path of the checkout is a param.
root = Path(snakemake.scriptdir, "..", "..").resolve()

with log_to(snakemake.log[0]) as log:
    train, test, summary = prepare_images(snakemake.wildcards.dataset, snakemake.params.entry, root)
    log.info("%s", summary)
    train.save(snakemake.output.train)
    test.save(snakemake.output.test)
    write_json(summary, snakemake.output.summary)
