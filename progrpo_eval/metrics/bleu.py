"""Self-BLEU (`self_bleu`), bit-identical to sacrebleu's and nltk's loops yet vectorised, and the
13a tokens it (and Distinct-n) counts.

Decisions
- Tokens: exactly those sacrebleu's BLEU sees, `Tokenizer13a()(text.rstrip()).split()`, by sacrebleu's
  own 13a code without its lru_caches (keyed by whole texts, they would pin long solutions in memory).
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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

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
