"""The config checks' knowledge of the model matches the real thing."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from adaptcommand.config_checks import QWEN2_LINEAR_MODULES


def test_module_names_are_the_linear_layers_of_a_qwen2(tiny):
    """target_modules are checked against QWEN2_LINEAR_MODULES: exactly the names of the linear
    layers inside the decoder of the tiny Qwen2 the demo builds (Qwen2.5-0.5B shares the architecture)."""
    model = AutoModelForCausalLM.from_pretrained(tiny[0])
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".layers." in name
    }
    assert names == set(QWEN2_LINEAR_MODULES)


def test_a_converted_base_is_the_workflows_own_directory(tmp_path):
    """model.base inside models/ is refused as a user's directory (Snakemake would delete it), except
    where the workflow writes it: the demo base, or a GGUF conversion. Every job of the SmolLM2 config
    re-reads the config once the converted directory exists; it must pass then too."""
    import pytest
    from helpers import REPO

    from adaptcommand.config_checks import ConfigError, load_config, validated_config

    (tmp_path / "models" / "smollm2-135m-instruct").mkdir(parents=True)
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "smollm2.yaml")
    validated_config(config, REPO, workdir=tmp_path)  # converted by the workflow: fine
    config = load_config(REPO / "config" / "config.yaml", REPO / "config" / "smollm2.yaml")
    config["model"]["gguf"] = {"package": "", "file": ""}
    with pytest.raises(ConfigError, match="is inside models/"):
        validated_config(config, REPO, workdir=tmp_path)  # a user's own directory there: refused
