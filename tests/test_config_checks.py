"""The config checks' knowledge of the model matches the real thing."""

from __future__ import annotations

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from adaptcommand.config_checks import QWEN2_LINEAR_MODULES


def test_module_names_are_the_linear_layers_of_a_qwen2():
    """target_modules are checked against QWEN2_LINEAR_MODULES: exactly the names of the linear
    layers inside a Qwen2 decoder (the demo's tiny one and Qwen2.5-0.5B share the architecture)."""
    cfg = Qwen2Config(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    model = Qwen2ForCausalLM(cfg)
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".layers." in name
    }
    assert names == set(QWEN2_LINEAR_MODULES)
