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
