"""A randomly initialised Qwen2 of a given geometry (the demo's tiny base, the benchmarks' real shape).

`QWEN25_05B` is the shape of Qwen/Qwen2.5-0.5B-Instruct in `build_model`'s arguments.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

__all__ = ["QWEN25_05B", "build_model"]

# The shape of Qwen/Qwen2.5-0.5B-Instruct (its config.json; tied embeddings, 494M parameters), in
# build_model's arguments: the benchmarks' randomly initialised model of the real geometry.
QWEN25_05B = {
    "hidden_size": 896,
    "num_layers": 24,
    "num_heads": 14,
    "num_kv_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
}


def build_model(
    tokenizer: PreTrainedTokenizerFast,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    intermediate_size: int,
    vocab_size: int,
    seed: int,
) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 whose vocabulary covers the tokenizer (padded like Qwen's)."""
    import torch

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=max(vocab_size, len(tokenizer)),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return model
