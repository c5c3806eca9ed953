import torch

from diffshare.generators import load_generator
from diffshare.generators.image_sampling import sample_grid, sample_images
from diffshare.logs import log_to
from diffshare.storage import write_json
from diffshare.tensors import reuse_freed_memory

with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    reuse_freed_memory()
    settings = snakemake.params.sampling
    model = load_generator(
        snakemake.input.model,
        snakemake.wildcards.generator,
        device=snakemake.params.device,
        plugins=snakemake.params.plugins,
    )
    samples, record = sample_images(
        model,
        settings["n"],
        conditional=settings["conditional"],
        samplers=settings["samplers"],
        seed=int(snakemake.wildcards.seed),
    )
    log.info("%s", record)
    samples.save(snakemake.output.samples)
    sample_grid(samples, snakemake.output.grid)
    write_json(record, snakemake.output.record)
