from diffshare.data.images import ImageSet
from diffshare.logs import log_to
from diffshare.storage import read_parquet, write_json, write_parquet
from diffshare.tracks.image import select_images

with log_to(snakemake.log[0]) as log:
    subset, rows, record = select_images(
        snakemake.wildcards.attack,
        ImageSet.load(snakemake.input.train),
        read_parquet(snakemake.input.terms),
        subset_size=snakemake.params.subset_size,
        alpha=float(snakemake.wildcards.alpha),
        seed=int(snakemake.wildcards.seed),
        tolerance=snakemake.params.tolerance,
        candidates_per_cell=snakemake.params.candidates_per_cell,
    )
    record = {"dataset": snakemake.wildcards.dataset, **record}
    log.info("%s", record)
    subset.save(snakemake.output.images)
    write_parquet(rows, snakemake.output.rows)
    write_json(record, snakemake.output.record)
