import torch

from diffshare.data.images import ImageSet
from diffshare.data.schema import TableSchema
from diffshare.generators import make_generator
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet
from diffshare.tensors import reuse_freed_memory, set_matmul_precision

# Every family of both tracks: a table is fitted with its schema; images with their class y
# (the model must know the number of classes and the image shape before it sees them).
with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    reuse_freed_memory()
    set_matmul_precision(snakemake.params.matmul_precision)
    settings = {
        "seed": int(snakemake.wildcards.seed),
        "device": snakemake.params.device,
        "checkpoint_dir": snakemake.params.checkpoint_dir,
        "checkpoint_every": snakemake.params.checkpoint_every,
    }
    if snakemake.params.track == "tabular":
        data = (
            read_parquet(snakemake.input.train),
            TableSchema.from_dict(read_json(snakemake.input.schema)),
        )
    else:
        images = ImageSet.load(snakemake.input.train)
        data = (images.images, images.attributes["y"])
        settings.update(
            num_classes=read_json(snakemake.input.summary)["num_classes"],
            channels=images.images.shape[-1],
            image_size=images.images.shape[1],
        )
    model = make_generator(
        snakemake.wildcards.generator,
        snakemake.params.model,
        plugins=snakemake.params.plugins,
        **settings,
    )
    model.fit(*data)
    model.save(snakemake.output.model)
    model.remove_checkpoint()
