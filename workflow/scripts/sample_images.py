import torch

from diffshare.logs import log_to
from diffshare.storage import write_json
from diffshare.tracks.image import load_image_generator, sample_grid, sample_images

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.sampling
    samples, record = sample_images(
        load_image_generator(snakemake.input.model, device=snakemake.params.device),
        settings["n"],
        conditional=settings["conditional"],
        samplers=settings["samplers"],
        seed=int(snakemake.wildcards.seed),
    )
    log.info("%s", record)
    samples.save(snakemake.output.samples)
    sample_grid(samples, snakemake.output.grid)
    write_json(record, snakemake.output.record)
