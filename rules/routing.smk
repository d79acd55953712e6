# Routing: per persona, the candidate method (routing.candidates) with the best VAL score
# (routing.metric, higher is better; ties -> the first candidate in config order), then its test
# results composed from the candidates' own test predictions (same targets, greedy decoding: the
# routed prediction for a persona IS its chosen method's prediction). The oracle (per persona the
# best candidate on TEST) is an upper bound, not a method: it is computed after evaluate_routing and
# nothing reads it back.
from adaptcommand.routing import RoutingPlan

ROUTING = RoutingPlan.from_config(config["routing"])
# Early, clear error (the registry is checked when the rules run: every rules file has registered
# its methods by then).
if "routing" in METHODS:
    ROUTING.checked(evaluated=METHODS)
# The candidates, checked against the registry and eval.methods.
routing_plan = lambda: ROUTING.checked(METHOD_REGISTRY, METHODS)
# The params of the three routing rules (one script).
ROUTE_PARAMS = dict(
    code=script_hash("route.py"), candidates=ROUTING.candidates, metric=ROUTING.metric
)


# Routing has no adapters of its own (no routes): rule evaluate_routing composes its TEST results
# from the candidates'; the evaluate rule only takes methods that generate (GENERATED, rules/eval.smk).
register_method(
    "routing",
    lambda: {},
    train_benchmarks=lambda: routing_plan().cost_files(
        method_benchmarks, "results/benchmarks/route.tsv"
    ),
)


rule route:
    input:
        val=lambda wc: routing_plan().files("results/eval/val/{method}/per_persona.csv"),
    output:
        "results/routing/choices.json",
    log:
        "logs/routing/route.log",
    benchmark:
        "results/benchmarks/route.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
        personas=PERSONAS,
    script:
        "../workflow/scripts/route.py"


rule evaluate_routing:
    input:
        choices="results/routing/choices.json",
        targets="results/eval/test/targets.jsonl",
        predictions=lambda wc: routing_plan().files(
            "results/eval/test/{method}/predictions.jsonl"
        ),
        metrics=lambda wc: routing_plan().files(
            "results/eval/test/{method}/metrics.json"
        ),
    output:
        predictions="results/eval/test/routing/predictions.jsonl",
        per_persona="results/eval/test/routing/per_persona.csv",
        metrics="results/eval/test/routing/metrics.json",
    log:
        "logs/evaluate/test_routing.log",
    benchmark:
        "results/benchmarks/evaluate_routing/test.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
    script:
        "../workflow/scripts/route.py"


rule routing_oracle:
    input:
        choices="results/routing/choices.json",
        routed="results/eval/test/routing/per_persona.csv",
        test=lambda wc: routing_plan().files(
            "results/eval/test/{method}/per_persona.csv"
        ),
    output:
        "results/routing/oracle.json",
    log:
        "logs/routing/oracle.log",
    benchmark:
        "results/benchmarks/routing_oracle.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
    script:
        "../workflow/scripts/route.py"
