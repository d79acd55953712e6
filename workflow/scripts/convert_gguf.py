"""Rule convert_gguf_base: a GGUF file shipped in a Python package -> the checked directory model.base."""

from adaptcommand.model.convert import convert_package_gguf
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    report = convert_package_gguf(p.package, p.file, snakemake.output[0], atol=float(p.atol))
    log.info(
        "%s %s: %s, %d parameters; max logit difference %.3g, tokenizer identical; %.1f s",
        p.package,
        p.version,
        report["architecture"],
        report["parameters"],
        report["check"]["max_abs_logit_difference"],
        report["seconds"]["total"],
    )
