import torch
from threadpoolctl import threadpool_limits

from diffshare.data.images import ImageSet
from diffshare.defenses.audit import audit_record
from diffshare.defenses.image import audit_images
from diffshare.logs import log_to
from diffshare.storage import write_json

with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    torch.set_num_threads(snakemake.threads)
    sensitive = snakemake.params.sensitive
    record = audit_images(
        ImageSet.load(snakemake.input.samples),
        ImageSet.load(snakemake.input.reference),
        reader=sensitive["reader"],
        reader_params=sensitive["cnn"],
        **snakemake.params.audit,
        train_rows=snakemake.params.train_rows,
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    record = audit_record(record, **dict(snakemake.wildcards.items()))
    log.info("%s", record)
    write_json(record, snakemake.output.record)
