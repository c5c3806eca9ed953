from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, write_json
from diffshare.tracks import adapter

# Both tracks: the sharer's set at an exact property ratio; a table keeps its schema (without
# the property column when the sharer hides it).
with log_to(snakemake.log[0]) as log:
    settings = snakemake.params.pia
    track = adapter(snakemake.params.track)
    prop = Property.from_config(settings["property"])
    extra = {}
    if snakemake.params.track == "tabular":
        schema = TableSchema.from_dict(read_json(snakemake.input.schema))
        extra = {"schema": schema, "hide_property": settings["hide_property"]}
    subset, record = track.sharer_set(
        track.read_set(snakemake.input.train),
        prop,
        ratio=float(snakemake.wildcards.ratio),
        size=settings["subset_size"],
        seed=int(snakemake.wildcards.seed),
        **extra,
    )
    record = {"dataset": snakemake.wildcards.dataset, **record}
    log.info("%s", record)
    if snakemake.params.track == "tabular":
        track.write_set(subset, snakemake.output.table)
        hidden = track.sharer_schema(schema, prop, hide_property=settings["hide_property"])
        write_json(hidden.to_dict(), snakemake.output.schema)
    else:
        track.write_set(subset, snakemake.output.images)
    write_json(record, snakemake.output.record)
