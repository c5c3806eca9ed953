import shutil

import torch

from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import read_json
from diffshare.tracks.image import train_image_generator

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.model
    model = train_image_generator(
        snakemake.wildcards.generator,
        ImageSet.load(snakemake.input.images),
        num_classes=read_json(snakemake.input.summary)["num_classes"],
        diffusion=settings["diffusion"],
        sngan=settings["sngan"],
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        checkpoint_every=snakemake.params.checkpoint_every,
    )
    model.save(snakemake.output.model)
    shutil.rmtree(snakemake.params.checkpoint_dir, ignore_errors=True)
