# Routing: per persona, the candidate method (routing.candidates) with the best VAL score on the
# protocol's headline (compare.headline, higher is better; ties -> the first candidate in config
# order), then its test results composed from the candidates' own test predictions (same targets,
# greedy decoding: the routed prediction for a persona IS its chosen method's prediction). The oracle
# (per persona the best candidate on TEST) is an upper bound, not a method: it is computed after
# evaluate_routing and nothing reads it back.
from adaptcommand.routing import RoutingPlan

ROUTING = RoutingPlan(config["routing"]["candidates"], config["compare"]["headline"])
# The params of the three routing rules (one script).
ROUTE_PARAMS = dict(
    code=script_hash("route.py"), candidates=ROUTING.candidates, metric=ROUTING.metric
)


rule route:
    input:
        val=ROUTING.files("results/eval/val/{method}/per_persona.csv"),
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
        predictions=ROUTING.files("results/eval/test/{method}/predictions.jsonl"),
        metrics=ROUTING.files("results/eval/test/{method}/metrics.json"),
    output:
        predictions="results/eval/test/routing/predictions.jsonl",
        per_persona="results/eval/test/routing/per_persona.csv",
        metrics="results/eval/test/routing/metrics.json",
    log:
        "logs/evaluate/test_routing.log",
    benchmark:
        "results/benchmarks/evaluate_routing/test_routing.tsv"
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
        test=ROUTING.files("results/eval/test/{method}/per_persona.csv"),
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
