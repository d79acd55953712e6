"""The offline demo's base model: a byte-level BPE tokenizer with a ChatML template and a small Qwen2.

It stands in for Qwen2.5-0.5B-Instruct where nothing can be downloaded: same architecture family,
same chat format, same loading path afterwards (a directory readable by the Auto classes). The model
is `adaptcommand.model.architecture.build_model` at the demo's geometry, pretrained here with the
library's training loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from adaptcommand.model.architecture import build_model
from adaptcommand.settings import DemoBase, Training

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML exactly as Qwen2.5 renders it when a system message is given and no tools are used.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def build_tokenizer(corpus: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` and wrap it as a chat tokenizer (left padding for generation)."""
    bpe = Tokenizer(models.BPE())
    # GPT-2's byte-level split keeps a whole number together with its leading space (" ?\p{N}+"), so
    # frequent values become single tokens ("Ġ22", "Ġ40"): a model this small cannot reliably count digit
    # by digit, and copying "to Ġ45" from the user's turn is one look-up of the token after "to" (with a
    # separate "Ġ" every number would follow the same token).
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        padding_side="left",
        model_max_length=4096,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_demo_base(out_dir: str, pc, demo: DemoBase | Mapping, seed: int) -> dict:
    """Tokenizer + tiny Qwen2, pretrained on synthetic dialogues of personas that are never evaluated.

    `demo` (config model.demo: a `settings.DemoBase` or its mapping) holds the architecture
    (hidden_size, num_layers, ...) and the pretraining recipe (pretrain_personas, pretrain_sessions,
    pretrain_seed, epochs, lr, batch_size). The result is a stand-in for an instruction-tuned
    generalist: it knows the chat format and the smart-home domain but none of the evaluated users'
    habits.
    """
    import json
    import tempfile

    from adaptcommand.data.clean import clean
    from adaptcommand.data.io import atomic_directory, load_dialogs
    from adaptcommand.demo.synthetic import NAMES, SURNAMES, write_raw
    from adaptcommand.prompts import chat_messages, training_example
    from adaptcommand.train.loop import MAX_GRAD_NORM, train

    demo = DemoBase.of(demo, "model.demo")
    with tempfile.TemporaryDirectory() as tmp:
        write_raw(
            tmp,
            demo.pretrain_personas,
            demo.pretrain_sessions,
            demo.pretrain_seed,
            pretraining=True,
            routine_share=demo.pretrain_routine_share,
        )
        clean(tmp, f"{tmp}/dialogs.jsonl")
        dialogs = load_dialogs(f"{tmp}/dialogs.jsonl")
    corpus = []
    for d in dialogs:
        corpus.extend(m["content"] for m in chat_messages(d, pc))
    # Every name a persona can have is in the vocabulary, whether or not a pretraining persona has it.
    corpus.extend(f"Hi {first} {surname}!" for first, _ in NAMES for surname in SURNAMES)
    tokenizer = build_tokenizer(corpus, demo.vocab_size)
    model = build_model(
        tokenizer,
        demo.hidden_size,
        demo.num_layers,
        demo.num_heads,
        demo.num_kv_heads,
        demo.intermediate_size,
        demo.vocab_size,
        seed,
    )
    examples = [training_example(tokenizer, d, pc) for d in dialogs]
    n_val = max(1, len(examples) // 20)
    recipe = Training(
        lr=demo.lr, epochs=demo.epochs, batch_size=demo.batch_size, weight_decay=demo.weight_decay
    )
    result = train(
        model,
        examples[n_val:],
        examples[:n_val],
        recipe,
        seed,
        tokenizer.pad_token_id,
        desc="pretrain",
        adam_beta2=demo.adam_beta2,  # 0.95 steadies full pretraining at a high learning rate
    )
    info = {
        "n_dialogs": len(dialogs),
        "vocab": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        **result.to_dict(),
        "config": {  # what the training loop was given, as the log has always recorded it
            "epochs": recipe.epochs,
            "lr": recipe.lr,
            "patience": recipe.patience,
            "batch_size": recipe.batch_size,
            "weight_decay": recipe.weight_decay,
            "adam_beta2": demo.adam_beta2,
            "warmup_ratio": recipe.warmup_ratio,
            "max_grad_norm": MAX_GRAD_NORM,
            "seed": seed,
        },
    }
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "pretrain_log.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
