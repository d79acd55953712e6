# Every run of every method side by side (tables, figure, controls), by the protocol in config compare;
# with two or more budgets of a user's history (train.sessions), the learning curve of the methods.
ALL_BUDGETS = EXPERIMENT.budgets
CURVE_METHODS = METHODS if len(ALL_BUDGETS) > 1 else []
NEW_USER_OUTPUT = (
    dict(cold_start=in_report("cold_start.csv", "cold_start", "new users (cold start)"))
    if NEW_USER_METHODS
    else {}
)
CURVE_OUTPUTS = {
    key: in_report(f"learning_curve.{ext}", "curve", f"learning curve ({ext})")
    for key, ext in (("curve", "csv"), ("curve_figure", "png"))
    if CURVE_METHODS
}


rule compare:
    input:
        # (a deleted or damaged result of a finished run is made again first: common.smk)
        remaking(lambda wildcards: []),
        # Methods, then controls (labelled as controls, never ranked as methods); every run (seed).
        metrics=eval_files("test", SCORED, "metrics"),
        per_persona=eval_files("test", SCORED, "per_persona"),
        # The routing oracle (best candidate per persona ON TEST) is drawn as a labelled upper bound.
        oracle=[
            layout.routing(layout.run_of(s), f)
            for s in (EXPERIMENT.full_draws if EXPERIMENT.routed else [])
            for f in ("oracle", "choices")
        ],
        # The new users' evaluation (personas.cold_start > 0), by the methods that can serve them.
        new_user_metrics=eval_files(layout.COLD, NEW_USER_METHODS, "metrics"),
        new_user_per_persona=eval_files(layout.COLD, NEW_USER_METHODS, "per_persona"),
        # With budgets of train.sessions, the methods at every budget (learning curve).
        curve_metrics=eval_files("test", CURVE_METHODS, "metrics", ALL_BUDGETS),
        curve_per_persona=eval_files("test", CURVE_METHODS, "per_persona", ALL_BUDGETS),
    output:
        **NEW_USER_OUTPUT,
        **CURVE_OUTPUTS,
        figure=in_report("comprehensive.png", "comparison", "figure"),
        summary=in_report("summary.csv", "summary", "summary table (CSV)"),
        markdown=in_report("summary.md", "summary", "summary table (Markdown)"),
        latex=in_report("summary.tex", "summary", "summary table (LaTeX, booktabs)"),
        per_persona=in_report(
            "per_persona.png", "per_persona", "gain over base per persona"
        ),
        controls=layout.comparison("controls.json"),
        # the protocol, the test turns' fingerprint and the base: what `adaptcommand compare-runs` reads
        protocol=layout.comparison("protocol.json"),
        # each seed's own table (summary.csv's columns, that seed's runs only)
        seeds=[
            layout.comparison(f"seeds/{layout.run_of(s)}.csv")
            for s in EXPERIMENT.full_draws
        ],
    log:
        layout.log("compare"),
    benchmark:
        layout.benchmark("compare")
    conda:
        "../envs/report.yaml"
    threads: 1
    params:
        code=script_hash("compare.py"),
        methods=METHODS,
        controls=CONTROLS,
        # {method: its runs} in the order of the inputs (seed<s> per seed, or untrained)
        runs={m: runs(m, "test", EXPERIMENT.budgets[-1:]) for m in SCORED},
        new_user_runs={m: runs(m, layout.COLD) for m in NEW_USER_METHODS},
        curve_runs={m: runs(m, "test", ALL_BUDGETS) for m in CURVE_METHODS},
        full_history_sessions=train_sessions(config),
        synthetic=config["data"]["source"] == "synthetic",
        made_by=dict(base=config["model"]["base"], sessions=config["train"]["sessions"]),
        # one line per scored method (workflow/methods.yaml), for the figure's caption in the report
        about={m: METHOD_TABLE[m]["about"] for m in SCORED},
        # {method: {"gpu": [...], "cpu": [...]}}: benchmark files of its GPU-rule and CPU-rule jobs
        benchmarks=lambda wc: {m: cost_files(m) for m in sorted(SCORED)},
        new_user_methods=NEW_USER_METHODS,
        new_user_benchmarks=lambda wc: {
            m: cost_files(m, layout.COLD) for m in sorted(NEW_USER_METHODS)
        },
        protocol=plain(config["compare"]),
    script:
        "../workflow/scripts/compare.py"
