# Routing, per seed: per persona, the candidate (routing.candidates) with the best VAL headline
# (compare.headline) replaces routing.default only when its advantage is beyond noise (a paired
# bootstrap over the persona's val dialogues); its test results are composed from the candidates' own
# test predictions of the seed. The oracle (the best candidate on TEST) is an upper bound and a
# diagnostic, never a method: nothing reads it back.
from adaptcommand.routing import RoutingPlan

ROUTING = RoutingPlan(config["routing"]["candidates"], config["compare"]["headline"])
ROUTE_PARAMS = dict(
    code=script_hash("route.py"), candidates=ROUTING.candidates, metric=ROUTING.metric
)


rule route:
    input:
        val=ROUTING.files("results/eval/val/{method}/seed{{seed}}/per_persona.csv"),
        val_predictions=ROUTING.files(
            "results/eval/val/{method}/seed{{seed}}/predictions.jsonl"
        ),
    output:
        "results/routing/seed{seed}/choices.json",
    log:
        "logs/routing/seed{seed}/route.log",
    benchmark:
        "results/benchmarks/route/seed{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
        noise=plain({k: v for k, v in config["routing"].items() if k != "candidates"}),
        seed=lambda wc: int(wc.seed),
        personas=PERSONAS,
    script:
        "../workflow/scripts/route.py"


rule evaluate_routing:
    input:
        choices="results/routing/seed{seed}/choices.json",
        targets="results/eval/test/targets.jsonl",
        predictions=ROUTING.files(
            "results/eval/test/{method}/seed{{seed}}/predictions.jsonl"
        ),
        metrics=ROUTING.files("results/eval/test/{method}/seed{{seed}}/metrics.json"),
    output:
        predictions="results/eval/test/routing/seed{seed}/predictions.jsonl",
        per_persona="results/eval/test/routing/seed{seed}/per_persona.csv",
        metrics="results/eval/test/routing/seed{seed}/metrics.json",
    log:
        "logs/evaluate/test_routing/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate_routing/test_routing/seed{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
    script:
        "../workflow/scripts/route.py"


rule routing_oracle:
    input:
        choices="results/routing/seed{seed}/choices.json",
        routed="results/eval/test/routing/seed{seed}/per_persona.csv",
        test=ROUTING.files("results/eval/test/{method}/seed{{seed}}/per_persona.csv"),
    output:
        "results/routing/seed{seed}/oracle.json",
    log:
        "logs/routing/seed{seed}/oracle.log",
    benchmark:
        "results/benchmarks/routing_oracle/seed{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        **ROUTE_PARAMS,
    script:
        "../workflow/scripts/route.py"
