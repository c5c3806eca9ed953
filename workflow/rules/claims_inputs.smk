# Functions used by the rule claims (workflow/rules/claims.smk).


def claims_inputs(wildcards):
    """The tables a dataset's claims are tested on: its FPA table and selection records, and
    its PIA table, where it has them."""
    dataset = wildcards.dataset
    inputs = {}
    if has_fpa(dataset):
        inputs.update(
            fpa=f"results/fpa/{dataset}.csv", selections=fpa_selections(wildcards)
        )
    if has_pia(dataset):
        inputs["pia"] = f"results/pia/{dataset}.csv"
    if not inputs:
        raise ValueError(
            f"dataset {dataset!r} has neither a fairness sweep nor a property"
        )
    return inputs


def claims_delta(wildcards):
    return pia_settings(wildcards)["delta"]
