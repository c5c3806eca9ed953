from diffshare.data.tabular import TableSchema
from diffshare.generators.ctgan import CtganGenerator
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet

with log_to(snakemake.log[0]):
    model = CtganGenerator(
        snakemake.wildcards.generator,
        snakemake.params.model,
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    model.fit(
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
    )
    model.save(snakemake.output.model)
