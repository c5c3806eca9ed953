from diffshare.attacks.pia.calibration import shadow_size
from diffshare.attacks.pia.property import Property
from diffshare.data.schema import TableSchema
from diffshare.logs import log_to
from diffshare.storage import read_json, write_json
from diffshare.tracks import adapter

# Both tracks: the sharer's set at an exact property ratio, or a shadow set of the receiver's
# auxiliary data at a known share (params.pia.shares); a table keeps its schema (without the
# property column when the sharer hides it).
with log_to(snakemake.log[0]) as log:
    settings = snakemake.params.pia
    track = adapter(snakemake.params.track)
    prop = Property.from_config(settings["property"])
    pool = track.read_set(snakemake.input.train)
    size = settings["subset_size"]
    if "shares" in settings:
        # A shadow set of the receiver's auxiliary data: as large as every share allows.
        size = shadow_size(prop.indicator(track.attribute_table(pool), "the auxiliary data"),
                           settings["shares"], size)  # fmt: skip
    extra = {}
    if snakemake.params.track == "tabular":
        schema = TableSchema.from_dict(read_json(snakemake.input.schema))
        extra = {"schema": schema, "hide_property": settings["hide_property"]}
    subset, record = track.sharer_set(
        pool,
        prop,
        ratio=float(snakemake.wildcards.get("ratio") or snakemake.wildcards.share),
        size=size,
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
