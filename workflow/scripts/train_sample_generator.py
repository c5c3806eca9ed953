import time

from diffshare.data.schema import TableSchema
from diffshare.generators import make_generator
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_parquet
from diffshare.tensors import reuse_freed_memory, set_matmul_precision

# A sample-only family (its library saves by pickling): trained and sampled in one job, and
# only the samples are written; the model is never saved, so nothing is ever unpickled.
with log_to(snakemake.log[0]) as log:
    reuse_freed_memory()
    set_matmul_precision(snakemake.params.matmul_precision)
    seed = int(snakemake.wildcards.seed)
    model = make_generator(
        snakemake.wildcards.generator,
        snakemake.params.model,
        seed=seed,
        plugins=snakemake.params.plugins,
    )
    model.fit(
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
    )
    start = time.perf_counter()
    samples = model.sample(snakemake.params.n_synthetic, seed=seed)
    log.info("sampled %d rows in %.1f s", len(samples), time.perf_counter() - start)
    write_parquet(samples, snakemake.output.samples)
