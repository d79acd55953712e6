# Demo only: a tokenizer and a tiny Qwen2 built offline, pretrained on personas never evaluated
# (adaptcommand.demo). With a real model (model.build_demo_base: false) model.base is loaded as it is.

if config["model"]["build_demo_base"]:

    rule build_demo_base:
        output:
            directory(config["model"]["base"]),
        log:
            "logs/build_demo_base.log",
        benchmark:
            "results/benchmarks/build_demo_base.tsv"
        conda:
            "../envs/train.yaml"
        threads: config["model"]["demo"]["threads"]
        resources:
            **layout.gpu_resources(RES, "unified_runtime_min"),
        params:
            prompt=PROMPT,
            demo=plain(config["model"]["demo"]),
            code=script_hash("build_demo_base.py"),
        script:
            "../workflow/scripts/build_demo_base.py"
