import torch

from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.defenses.pia import decoy_samples, property_indicator, sharer_property_classifier
from diffshare.generators import load_generator
from diffshare.logs import log_to
from diffshare.storage import read_json, read_parquet, write_json, write_parquet

# The undefended model's rows, kept so that the served share is the decoy: by the property column
# when the samples carry it, else by a classifier the sharer trains on its own table.
with log_to(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = snakemake.params.sampling
    prop = Property.from_config(settings["property"])
    seed = int(snakemake.wildcards.seed)
    model = load_generator(
        snakemake.input.model,
        snakemake.wildcards.generator,
        device=snakemake.params.device,
        plugins=snakemake.params.plugins,
    )
    table = read_parquet(snakemake.input.table)
    if prop.column in table.columns:
        indicator, how = (lambda rows: prop.indicator(rows, "the samples")), "column"
    else:
        indicator = sharer_property_classifier(
            table,
            property_indicator(table, read_parquet(snakemake.input.train), prop),
            schema=TableSchema.from_dict(read_json(snakemake.input.schema)),
            classifier=settings["classifier"],
            params=settings["params"],
            seed=seed,
        )
        how = f"classifier {settings['classifier']}"
    samples, record = decoy_samples(
        lambda count, batch_seed: model.sample(count, seed=batch_seed),
        indicator,
        n=settings["n"],
        decoy=float(snakemake.wildcards.decoy),
        seed=seed,
        max_draw_factor=settings["max_draw_factor"],
    )
    record = {"dataset": snakemake.wildcards.dataset, "selected_by": how, **record}
    log.info("%s", record)
    write_parquet(samples, snakemake.output.samples)
    write_json(record, snakemake.output.record)
