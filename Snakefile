# diffshare: privacy and fairness risks of sharing diffusion models.
# Targets: results/{baseline,utility,fpa,pia}/{dataset}.csv (see README.md).
# The default target builds them for every dataset in config `run.datasets`.
from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "datasets.yaml")
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    classifier="logreg|hgb|mlp|cnn",
    seed=r"\d+",
    # Swept numbers are written by diffshare.config.sweep_value and match SWEEP_VALUE.
    source=rf"real|synthetic/(full|attack~[a-z_]+/alpha~{SWEEP_VALUE})",
    subset=rf"full|attack~[a-z_]+/alpha~{SWEEP_VALUE}|(ratio|shadow)~{SWEEP_VALUE}",
    generator=family_pattern(FAMILIES),
    ratio=SWEEP_VALUE,
    share=SWEEP_VALUE,
    attack="none|label_flip|mi_greedy",
    alpha=SWEEP_VALUE,


include: "workflow/rules/data_inputs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/generator_inputs.smk"
include: "workflow/rules/generator.smk"
include: "workflow/rules/receiver_inputs.smk"
include: "workflow/rules/receiver.smk"
include: "workflow/rules/fpa_inputs.smk"
include: "workflow/rules/fpa.smk"
include: "workflow/rules/pia_inputs.smk"
include: "workflow/rules/pia.smk"
include: "workflow/rules/claims_inputs.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/quality_inputs.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/defense_fpa_inputs.smk"
include: "workflow/rules/defense_fpa.smk"
include: "workflow/rules/defense_pia_inputs.smk"
include: "workflow/rules/defense_pia.smk"
include: "workflow/rules/report.smk"


# `snakemake --report` without targets reports the tables and figures built so far (see
# all_targets in workflow/rules/common.smk).
rule all:
    default_target: True
    input:
        all_targets,
