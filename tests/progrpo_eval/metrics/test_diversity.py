"""Diversity metrics: hand-computed tables, bit-equality with sacrebleu/nltk loops, the real MiniLM."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sacrebleu
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from progrpo_eval.metrics.diversity import (
    dataset_diversity,
    default_embedding_model,
    distinct_n,
    expected_distinct_n,
    fair_subsample,
    resolve_metric,
    self_bleu,
    self_bleu_scores,
    semantic_cosine,
    semantic_cosine_details,
    tokenize,
)

NAN = math.nan

# ---------------------------------------------------------------- tokenization and Distinct-n

TOKENIZE_CASES = [
    # (text, expected 13a tokens)
    ("x=1, y.", ["x", "=", "1", ",", "y", "."]),  # '=' split; ',' after a digit split before a space
    ("3.5 and 1,000", ["3.5", "and", "1,000"]),  # '.' and ',' between digits stay
    ("Hello-\nworld", ["Helloworld"]),  # 13a joins a hyphenated line break
    ("a &amp; b  ", ["a", "&", "b"]),  # entity unescaped, then '&' split; trailing space dropped
    ("", []),
]


@pytest.mark.parametrize("text, expected", TOKENIZE_CASES)
def test_tokenize_13a(text, expected):
    assert tokenize(text) == expected
    assert tokenize(text) == Tokenizer13a()(text.rstrip()).split()


DISTINCT_CASES = [
    # (texts, n, expected by hand, tolerance)
    (["a b a b", "a b c"], 2, 3 / 5, 1e-15),  # bigrams ab ba ab | ab bc: 3 unique of 5
    (["a b a b", "a b c"], 1, 3 / 7, 1e-15),  # a b a b a b c: 3 unique of 7
    (["a, a. a"], 1, 3 / 5, 1e-15),  # 13a: a , a . a
    (["a b c d"], 4, 1.0, 0.0),
    (["a b", "a"], 3, NAN, 0.0),  # no trigram at all
    ([], 2, NAN, 0.0),
]


@pytest.mark.parametrize("texts, n, expected, tolerance", DISTINCT_CASES)
def test_distinct_n(texts, n, expected, tolerance):
    assert distinct_n(texts, n) == pytest.approx(expected, abs=tolerance, nan_ok=True)


EXPECTED_DISTINCT_CASES = [
    # (texts, n, vocab_size, expected by hand): unique / (V (1 - ((V-1)/V)^C))
    (["a b a b"], 1, 2, 2 / (2 * (1 - (1 / 2) ** 4))),  # = 16/15
    (["a b a b"], 2, 4, 2 / (4 * (1 - (3 / 4) ** 3))),  # bigrams ab ba ab: = 32/37
    (["a b a b"], 2, None, 2 / (4 * (1 - (3 / 4) ** 3))),  # default V = U^n = 2^2
    (["a b", "c d"], 1, 1, 4 / 1),  # V = 1: one expected distinct token
    ([""], 2, 10, NAN),
]


@pytest.mark.parametrize("texts, n, vocab_size, expected", EXPECTED_DISTINCT_CASES)
def test_expected_distinct_n(texts, n, vocab_size, expected):
    value = expected_distinct_n(texts, n, vocab_size=vocab_size)
    assert value == pytest.approx(expected, rel=1e-12, nan_ok=True)


def test_expected_distinct_removes_the_length_penalty_of_distinct():
    """Texts drawn uniformly from V words: Distinct-1 falls with length, EAD stays near 1."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(200)]
    short, long = " ".join(rng.choices(words, k=100)), " ".join(rng.choices(words, k=2000))
    assert distinct_n([long], 1) < 0.6 * distinct_n([short], 1)
    assert expected_distinct_n([short], 1, vocab_size=200) == pytest.approx(1.0, abs=0.05)
    assert expected_distinct_n([long], 1, vocab_size=200) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------- Self-BLEU by hand

SELF_BLEU_CASES = [
    # (texts, mode, expected by hand, relative tolerance)
    # "the cat sat on the mat" vs "the cat sat on a mat", both ways: clipped precisions 5/6, 3/5,
    # 2/4, 1/3, equal lengths (BP = 1): BLEU = (5/6 * 3/5 * 2/4 * 1/3)^(1/4) = 12^(-1/4).
    (["the cat sat on the mat", "the cat sat on a mat"], "sacrebleu", 100 * 12**-0.25, 1e-12),
    (["the cat sat on the mat", "the cat sat on a mat"], "nltk", 12**-0.25, 1e-12),
    # "a b c" vs "a b d": precisions 2/3, 1/2, 0/1, and no 4-gram.
    # sacrebleu: exp smoothing 100/(2*1) for the trigram, effective order 3.
    (["a b c", "a b d"], "sacrebleu", ((100 * 2 / 3) * (100 / 2) * (100 / 2)) ** (1 / 3), 1e-12),
    # nltk method1: 0.1/1 for the trigram and for the 4-gram (its denominator is max(1, 0)).
    (["a b c", "a b d"], "nltk", (2 / 3 * 1 / 2 * 0.1 * 0.1) ** 0.25, 1e-12),
    # "a b" vs "a b c d": precisions 2/2, 1/1, no trigram (effective order 2), BP = exp(1 - 4/2),
    # so exp(-1) * (100 * 100)^(1/2). "a b c d" vs "a b": precisions 2/4, 1/3, then 0/2 and 0/1
    # smoothed to 100/(2*2) and 100/(4*1), BP = 1.
    (
        ["a b", "a b c d"],
        "sacrebleu",
        (math.exp(-1) * 100 + (50 * (100 / 3) * (100 / (2 * 2)) * (100 / (4 * 1))) ** 0.25) / 2,
        1e-12,
    ),
    (["only one text"], "sacrebleu", NAN, 0.0),
    ([], "nltk", NAN, 0.0),
    (["", ""], "sacrebleu", 0.0, 0.0),
    # 3 tokens, identical: nltk method1 still gives the missing 4-gram 0.1/1, so 0.1^(1/4) ...
    (["same words here", "same words here"], "nltk", 0.1**0.25, 1e-15),
    # ... where sacrebleu's effective order stops at the trigram: 100.
    (["same words here", "same words here"], "sacrebleu", 100.0, 1e-15),
]


@pytest.mark.parametrize("texts, mode, expected, tolerance", SELF_BLEU_CASES)
def test_self_bleu_by_hand(texts, mode, expected, tolerance):
    assert self_bleu(texts, mode) == pytest.approx(expected, rel=tolerance, nan_ok=True)


def test_self_bleu_rejects_unknown_mode():
    with pytest.raises(ValueError, match="known"):
        self_bleu(["a", "b"], "bleurt")


# ---------------------------------------------------------------- Self-BLEU == the reference loops

WORDS = "a b c d the cat sat , . - $ 1 2.5 x=1 (y) don't 3,000 &amp;".split()


def random_texts(seed: int) -> list[str]:
    """Small vocabularies (many matches), lengths 0..80, repeated texts, trailing whitespace/hyphens."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(rng.choice([2, 2, 3, 4, 5, 8, 13])):
        words = WORDS[: rng.randint(2, len(WORDS))]
        text = " ".join(rng.choice(words) for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 7, 15, 40, 80])))
        if rng.random() < 0.25:
            text += rng.choice([" ", "-\n", "\n", " .", "\t"])
        if texts and rng.random() < 0.2:
            text = rng.choice(texts)
        texts.append(text)
    return texts


def sacrebleu_reference(texts: list[str]) -> list[float]:
    return [sacrebleu.sentence_bleu(t, texts[:i] + texts[i + 1 :]).score for i, t in enumerate(texts)]


def nltk_reference(texts: list[str]) -> list[float]:
    tokens = [Tokenizer13a()(t.rstrip()).split() for t in texts]
    method1 = SmoothingFunction().method1
    return [
        float(sentence_bleu(tokens[:i] + tokens[i + 1 :], hyp, weights=(0.25,) * 4, smoothing_function=method1))
        for i, hyp in enumerate(tokens)
    ]


REFERENCES = {"sacrebleu": sacrebleu_reference, "nltk": nltk_reference}


@pytest.mark.parametrize("mode", ["sacrebleu", "nltk"])
@pytest.mark.parametrize("seed", range(0, 200, 5))
def test_self_bleu_bit_identical_to_reference_loops(mode, seed):
    texts = random_texts(seed) + random_texts(seed + 1)
    expected = REFERENCES[mode](texts)
    assert self_bleu_scores(texts, mode) == expected  # == per text, not approx
    assert self_bleu(texts, mode) == math.fsum(expected) / len(expected)


def test_self_bleu_bit_identical_on_long_texts():
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(300)] + [",", ".", "="]
    shared = " ".join(rng.choices(vocabulary, k=200))
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(300, 900))) + " " + shared for _ in range(6)]
    for mode, reference in REFERENCES.items():
        assert self_bleu_scores(texts, mode) == reference(texts)


# ---------------------------------------------------------------- Tab. 5 aggregation

PROBLEMS = {
    "p1": ["a b", "a b"],  # bigrams ab ab: 1/2
    "p2": ["a b c"],  # one text: skipped
    "p3": ["a b c", "d e f"],  # ab bc de ef: 4/4
    "p4": ["a", "b"],  # no bigram: NaN, left out
}


def test_dataset_diversity_macro_average_by_hand():
    result = dataset_diversity(PROBLEMS, "distinct:n=2", aggregation="per-problem")
    assert result["value"] == pytest.approx((1 / 2 + 1) / 2)
    assert (result["num_problems"], result["num_skipped"], result["num_undefined"]) == (2, 1, 1)
    assert result["per_problem"]["p1"] == 0.5


def test_dataset_diversity_takes_a_callable_and_min_texts():
    result = dataset_diversity(PROBLEMS, lambda texts: float(len(texts)), min_texts=1, aggregation="per-problem")
    assert result["value"] == pytest.approx((2 + 1 + 2 + 2) / 4)
    assert result["num_problems"] == 4


def test_dataset_diversity_pools_every_text_by_default():
    """Tab. 5 "computed at the dataset level": one set of all the problems' texts, not a mean over problems."""
    result = dataset_diversity(PROBLEMS, "distinct:n=2")
    # bigrams of all 7 texts: ab ab | ab bc | ab bc de ef -> 8 in all, 4 unique (per problem it was 0.75)
    assert result["aggregation"] == "pooled" and result["value"] == pytest.approx(4 / 8)
    assert result["value"] == distinct_n([text for texts in PROBLEMS.values() for text in texts])
    assert (result["num_problems"], result["num_texts"]) == (4, 7)
    with pytest.raises(ValueError, match="unknown aggregation 'macro'"):
        dataset_diversity(PROBLEMS, "distinct:n=2", aggregation="macro")


def test_fair_subsample_keeps_common_problems_and_m_texts_each():
    solutions = {
        "grpo": {"p1": ["a1", "a2", "a3", "a4"], "p2": ["b1", "b2"], "p3": ["c1"]},
        "ours": {"p1": ["x1", "x2", "x3"], "p2": ["y1"], "p3": ["z1", "z2"]},
    }
    chosen = fair_subsample(solutions, 2, seed=0)
    assert {run: list(problems) for run, problems in chosen.items()} == {"grpo": ["p1"], "ours": ["p1"]}
    assert len(chosen["grpo"]["p1"]) == 2 and set(chosen["grpo"]["p1"]) <= set(solutions["grpo"]["p1"])
    assert chosen["grpo"]["p1"] == sorted(chosen["grpo"]["p1"])  # kept in their original order
    assert chosen == fair_subsample(solutions, 2, seed=0)  # seeded
    draws = {tuple(fair_subsample(solutions, 2, seed=seed)["grpo"]["p1"]) for seed in range(20)}
    assert len(draws) > 1  # the seed decides which texts
    assert fair_subsample(solutions, 1, seed=0)["ours"].keys() == {"p1", "p2", "p3"}


@pytest.mark.parametrize("name", ["bleurt", "distinct:k=2", "self-bleu:model=x"])
def test_resolve_metric_rejects_unknown_names_and_parameters(name):
    with pytest.raises(ValueError):
        resolve_metric(name)


def test_resolve_metric_reads_parameters():
    texts = ["the cat sat on the mat", "the cat sat on a mat"]
    assert resolve_metric("self-bleu:mode=nltk")(texts) == self_bleu(texts, "nltk")
    assert resolve_metric("distinct:n=1")(texts) == distinct_n(texts, 1)


# ---------------------------------------------------------------- semantic cosine


@pytest.fixture(scope="module")
def minilm():
    return default_embedding_model()


class CyclingEncoder:
    """The real tokenizer and limits, but window i is embedded as the unit vector e_(i mod 2)."""

    def __init__(self, real_model):
        self.tokenizer, self.max_seq_length = real_model.tokenizer, real_model.max_seq_length
        self.windows: list[str] = []

    def encode(self, windows, **kwargs):
        self.windows.extend(windows)
        return np.eye(2, dtype=np.float32)[np.arange(len(windows)) % 2]


WINDOW_CASES = [
    # (long text, window, expected windows): window=100 leaves 100 - 2 = 98 word pieces.
    (" ".join(["the"] * 600), 100, 7),  # 1 piece per word: ceil(600 / 98) = 7
    (" ".join(["unbelievably"] * 100), 100, 6),  # 5 pieces per word, cut at word starts: 19 words per window
    (" ".join(["the"] * 254), 256, 1),  # fits 256 - 2 exactly
    (" ".join(["the"] * 255), 256, 2),
]


@pytest.mark.slow  # loads all-MiniLM-L6-v2 (the real tokenizer)
@pytest.mark.parametrize("text, window, expected_windows", WINDOW_CASES)
def test_semantic_cosine_windows_as_documented(minilm, text, window, expected_windows):
    encoder = CyclingEncoder(minilm)
    details = semantic_cosine_details([text, "short"], model=encoder, long_texts="window", window=window)
    long_windows, short_window = encoder.windows[:-1], encoder.windows[-1]
    assert len(long_windows) == expected_windows and short_window == "short"
    assert " ".join(long_windows) == text  # windows cover the text, cut between words
    pieces = min(window, 256) - 2
    assert all(len(minilm.tokenizer(w, add_special_tokens=False)["input_ids"]) <= pieces for w in long_windows)
    # long text: mean of alternating e0, e1 renormalized; "short" is the next vector in the cycle.
    e0_count, e1_count = (expected_windows + 1) // 2, expected_windows // 2
    short_vector_is_e0 = expected_windows % 2 == 0
    expected = (e0_count if short_vector_is_e0 else e1_count) / math.hypot(e0_count, e1_count)
    assert details["value"] == pytest.approx(expected, rel=1e-12)
    assert details["num_windowed_texts"] == int(expected_windows > 1)
    assert details["num_windows"] == expected_windows + 1
    assert f"{pieces} word pieces" in details["policy"]


@pytest.mark.slow
def test_semantic_cosine_real_model(minilm):
    assert semantic_cosine(["The cat sat on the mat.", "The cat sat on the mat."]) == pytest.approx(1.0, abs=1e-6)
    texts = ["We solve x^2 = 4, so x = 2.", "Squaring gives x = 2 since x is positive.", "Paris is in France."]
    embeddings = minilm.encode(texts, normalize_embeddings=True).astype(np.float64)
    by_hand = np.mean([embeddings[i] @ embeddings[j] for i, j in [(0, 1), (0, 2), (1, 2)]])
    assert semantic_cosine(texts) == pytest.approx(by_hand, abs=1e-6)
    assert semantic_cosine(texts[:2]) > semantic_cosine([texts[0], texts[2]])
    long = " ".join(["The derivative of x^2 is 2x, so the minimum is at zero."] * 60)
    details = semantic_cosine_details([long, texts[0]], long_texts="window")
    assert details["num_windowed_texts"] == 1 and details["num_windows"] > 2
    assert -1.0 <= details["value"] <= 1.0
    assert math.isnan(semantic_cosine(["alone"]))


@pytest.mark.slow
def test_semantic_cosine_truncates_as_the_models_encode_by_default(minilm):
    """The paper's setup: plain `encode`, which keeps the first 256 word pieces; windows are the option."""
    long = " ".join(["The derivative of x^2 is 2x, so the minimum is at zero."] * 30) + " Paris is in France."
    texts = [long, "The derivative of x^2 is 2x.", "Paris is in France."]
    embeddings = minilm.encode(texts, normalize_embeddings=True).astype(np.float64)  # truncates the long text
    by_hand = np.mean([embeddings[i] @ embeddings[j] for i, j in [(0, 1), (0, 2), (1, 2)]])
    details = semantic_cosine_details(texts)
    assert details["value"] == pytest.approx(by_hand, abs=1e-6)
    assert details["long_texts"] == "truncate" and details["num_truncated_texts"] == 1
    assert "truncated at 256 word pieces" in details["policy"]
    assert semantic_cosine(texts, long_texts="window") != pytest.approx(by_hand, abs=1e-4)
