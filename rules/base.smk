# Demo only: a tokenizer and a tiny Qwen2 built offline, pretrained on personas never evaluated
# (adaptcommand.demo). With model.gguf (config/smollm2.yaml) a GGUF file shipped in a Python package
# is converted into a standard checkpoint directory at model.base and checked. Otherwise model.base
# is loaded as it is.

if config["model"]["build_demo_base"]:

    rule build_demo_base:
        output:
            directory(config["model"]["base"]),
        log:
            layout.log("build_demo_base"),
        benchmark:
            layout.benchmark("build_demo_base")
        conda:
            "../envs/train.yaml"
        threads: config["model"]["demo"]["threads"]
        resources:
            **scheduling.gpu_resources(RES, "unified_runtime_min"),
        params:
            prompt=PROMPT,
            demo=plain(config["model"]["demo"]),
            code=script_hash("build_demo_base.py"),
        script:
            "../workflow/scripts/build_demo_base.py"


if config["model"]["gguf"]["package"]:
    from adaptcommand.model.convert import package_version

    # The installed release of the package (another release re-runs the conversion).
    GGUF_VERSION = package_version(config["model"]["gguf"]["package"])

    rule convert_gguf_base:
        output:
            directory(config["model"]["base"]),
        log:
            layout.log("convert_gguf_base"),
        benchmark:
            layout.benchmark("convert_gguf_base")
        conda:
            "../envs/train.yaml"
        threads: RES["threads"]
        resources:
            mem_mb=RES["model_cpu_mem_mb"],
            runtime=RES["merge_runtime_min"],
        params:
            gguf=plain(config["model"]["gguf"]),
            version=GGUF_VERSION,
            code=script_hash("convert_gguf.py"),
        script:
            "../workflow/scripts/convert_gguf.py"
