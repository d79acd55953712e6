# AdaptCommand: personalise a small chat model to each smart-home user and measure which method works.
# Full experiment:  snakemake --cores 4
# Offline demo:     snakemake --cores 2 --configfile config/demo.yaml
import os

from snakemake.utils import min_version

from adaptcommand.config_checks import read_yaml, refuse_config_errors

min_version("9.0")

# The full experiment's config, next to this Snakefile (also when run with --directory elsewhere);
# --configfile overlays (config/demo.yaml, ...) are merged on top of it. Each is read here first, so
# that a YAML syntax error or a repeated key is named with its file and line (Snakemake names neither,
# and keeps the last of two equal keys).
with refuse_config_errors():
    full = os.path.join(workflow.basedir, "config", "config.yaml")
    for path in [full, *workflow.overwrite_configfiles]:
        read_yaml(path)


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/base.smk"
include: "rules/cluster.smk"
include: "rules/merge.smk"
include: "rules/train.smk"
include: "rules/cold_start.smk"
include: "rules/routing.smk"
include: "rules/history.smk"
include: "rules/adapters.smk"
include: "rules/eval.smk"
include: "rules/report.smk"


check_method_rules()


rule all:
    input:
        layout.comparison("comprehensive.png"),
        layout.comparison("summary.csv"),
        # what `adaptcommand compare-runs` reads; with budgets of train.sessions, the learning curve
        layout.comparison("protocol.json"),
        *CURVE_OUTPUTS.values(),
        # what `adaptcommand chat` loads: one card per scored method and run (training seed)
        # (at the largest budget of train.sessions: what a deployed assistant serves)
        [
            layout.card(m, r)
            for m in SCORED
            for r in runs(m, "test", EXPERIMENT.budgets[-1:])
        ],
