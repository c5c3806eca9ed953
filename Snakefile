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
    source=r"real|synthetic/(full|attack~[a-z_]+/alpha~[0-9.]+)",
    subset=r"full|attack~[a-z_]+/alpha~[0-9.]+|ratio~[0-9.]+",
    generator="tabddpm|ctgan|tvae|ddpm|edm|sngan",
    ratio=r"[0-9.]+",
    attack="none|label_flip|mi_greedy",
    alpha=r"[0-9.]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/generator.smk"
include: "workflow/rules/receiver.smk"
include: "workflow/rules/fpa.smk"
include: "workflow/rules/pia.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        default_targets(),
        "results/benchmarks.csv",
