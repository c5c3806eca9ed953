import time

from diffshare.generators import load_generator
from diffshare.logs import log_to
from diffshare.storage import write_parquet
from diffshare.tensors import reuse_freed_memory, set_matmul_precision

with log_to(snakemake.log[0]) as log:
    reuse_freed_memory()
    set_matmul_precision(snakemake.params.matmul_precision)
    model = load_generator(
        snakemake.input.model,
        snakemake.wildcards.generator,
        device=snakemake.params.device,
        plugins=snakemake.params.plugins,
    )
    start = time.perf_counter()
    samples = model.sample(snakemake.params.n_synthetic, seed=int(snakemake.wildcards.seed))
    log.info("sampled %d rows in %.1f s", len(samples), time.perf_counter() - start)
    write_parquet(samples, snakemake.output.samples)
