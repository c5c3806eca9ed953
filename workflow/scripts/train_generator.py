from diffshare.data.tabular import TableSchema
from diffshare.generators.tabddpm import TabularDiffusion, TabularDiffusionConfig
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet

with log_to(snakemake.log[0]):
    model = TabularDiffusion(
        TabularDiffusionConfig(**snakemake.params.model),
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        checkpoint_every=snakemake.params.checkpoint_every,
    )
    model.fit(
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
    )
    model.save(snakemake.output.model)
    model.remove_checkpoint()
