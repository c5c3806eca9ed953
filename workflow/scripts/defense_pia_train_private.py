import torch

from diffshare.data.schema import TableSchema
from diffshare.generators import make_generator
from diffshare.generators.dp_preprocessing import PublicDomain
from diffshare.generators.dp_training import fit_private
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json

# The shared tabddpm model trained with DP end to end (quantiles and label counts by the Laplace
# mechanism over the dataset's public domain, the weights by DP-SGD); the epsilon, its split and
# the spent epsilon go to privacy.json, with where the noise came from ("noise": os_entropy, or
# seeded when defense.pia.dp_sgd.reproducible_noise, which params.dp_sgd passes on, is true).
with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    dataset = snakemake.wildcards.dataset
    domain = PublicDomain.from_config(dataset, snakemake.params.domain)
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
        domain=domain,
        target_epsilon=float(snakemake.wildcards.epsilon),
        **snakemake.params.dp_sgd,
    )
    model.save(snakemake.output.model)
    write_json({"dataset": dataset, **record}, snakemake.output.privacy)
