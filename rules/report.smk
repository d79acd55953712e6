# Every method's test results side by side: summary table and the comparison figure.


rule compare:
    input:
        metrics=expand("results/eval/test/{method}/metrics.json", method=METHODS),
        per_persona=expand("results/eval/test/{method}/per_persona.csv", method=METHODS),
        code=script("compare.py"),
    output:
        figure="results/comparison/comprehensive.png",
        summary="results/comparison/summary.csv",
        markdown="results/comparison/summary.md",
    params:
        methods=",".join(METHODS),
        benchmarks=lambda wc: ";".join(
            f"{m}=" + ",".join(method_benchmarks(m)) for m in METHODS
        ),
        resamples=config["compare"]["bootstrap_resamples"],
        seed=config["compare"]["seed"],
    log:
        "logs/compare.log",
    benchmark:
        "results/benchmarks/compare.tsv"
    threads: 1
    script:
        "../workflow/scripts/compare.py"
