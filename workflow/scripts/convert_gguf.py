"""Rule convert_gguf_base: a GGUF file shipped in a Python package -> the checked directory model.base."""

from adaptcommand.model.convert import convert_package_gguf
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    gguf = p.gguf  # config model.gguf: package, file, atol
    out = snakemake.output[0]
    report = convert_package_gguf(gguf["package"], gguf["file"], out, atol=float(gguf["atol"]))
    log.info(
        "%s %s: %s, %d parameters; max logit difference %.3g, tokenizer identical; %.1f s",
        gguf["package"],
        p.version,
        report["architecture"],
        report["parameters"],
        report["check"]["max_abs_logit_difference"],
        report["seconds"]["total"],
    )
