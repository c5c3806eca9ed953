import torch

from diffshare.data.schema import TableSchema
from diffshare.generators import make_generator
from diffshare.generators.dp_training import fit_private
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

# The shared tabddpm model trained with DP-SGD; the spent epsilon goes to privacy.json.
with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    model = make_generator(
        "tabddpm",
        snakemake.params.model,
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
    )
    record = fit_private(
        model,
        read_parquet(snakemake.input.train),
        TableSchema.from_dict(read_json(snakemake.input.schema)),
        target_epsilon=float(snakemake.wildcards.epsilon),
        **snakemake.params.dp_sgd,
    )
    model.save(snakemake.output.model)
    write_json({"dataset": snakemake.wildcards.dataset, **record}, snakemake.output.privacy)
