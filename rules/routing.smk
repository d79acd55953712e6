# Routing, per seed: per persona, the candidate with the best VAL headline replaces routing.default only
# when its advantage is beyond noise (a paired bootstrap over the persona's val dialogues); its test
# results are composed from the candidates' test predictions. The oracle (best on TEST): a diagnostic.
from adaptcommand.routing import RoutingPlan

ROUTING = RoutingPlan(config["routing"]["candidates"], config["compare"]["headline"])
ROUTE_PARAMS = dict(
    code=script_hash("route.py"), candidates=ROUTING.candidates, metric=ROUTING.metric
)
# The candidates' evaluation files of the job's seed on `split` (ROUTING.files fills in {method}).
CANDIDATE = lambda split: layout.eval_files(split, "{method}", "seed{{seed}}")


# The oracle: the best candidate per persona ON TEST (a diagnostic). Its directives are the ones every
# routing rule shares; route and evaluate_routing add their inputs, outputs and (route) params.
rule routing_oracle:
    input:
        choices=layout.routing("seed{seed}", "choices"),
        routed=lambda wc: layout.eval_files(
            "test", EXPERIMENT.routed[0], f"seed{wc.seed}"
        )["per_persona"],
        test=ROUTING.files(CANDIDATE("test")["per_persona"]),
    output:
        layout.routing("seed{seed}", "oracle"),
    log:
        layout.log("routing_oracle", "seed{seed}"),
    benchmark:
        layout.benchmark("routing_oracle", "seed{seed}")
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
    script:
        "../workflow/scripts/route.py"


# Per persona and seed, the candidate chosen on val (params are added to the oracle's).
use rule routing_oracle as route with:
    input:
        val=ROUTING.files(CANDIDATE("val")["per_persona"]),
        val_predictions=ROUTING.files(CANDIDATE("val")["predictions"]),
    output:
        layout.routing("seed{seed}", "choices"),
    log:
        layout.log("route", "seed{seed}"),
    benchmark:
        layout.benchmark("route", "seed{seed}")
    params:
        noise=plain({k: v for k, v in config["routing"].items() if k != "candidates"}),
        seed=lambda wc: layout.seed_number(wc.seed),
        personas=PERSONAS,


# The routed method's test results (its kind's evaluation rule: methods.KINDS), composed per persona.
use rule routing_oracle as evaluate_routing with:
    input:
        choices=layout.routing("seed{seed}", "choices"),
        targets=layout.targets("test"),
        predictions=ROUTING.files(CANDIDATE("test")["predictions"]),
        metrics=ROUTING.files(CANDIDATE("test")["metrics"]),
    output:
        **layout.eval_files("test", "{method}", "seed{seed}"),
    log:
        layout.log("evaluate_routing", "test_{method}", "seed{seed}"),
    benchmark:
        layout.benchmark("evaluate_routing", "test_{method}", "seed{seed}")
    wildcard_constraints:
        method="|".join(EXPERIMENT.routed) or "(?!)",
