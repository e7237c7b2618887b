"""Entropy rescoring: top-k bounds by hand and as a property, the streamed entropy against the
plain one, exact rescoring of a real tiny-model run against a brute-force forward pass, the
rebuilt prompts, the per-rollout table and the command line."""

import json
import math
import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.metrics.entropy import streaming_entropy, topk_entropy_bounds
from progrpo_eval.metrics.tokens import entropy_from_logits, low_prob_confidence, low_prob_mean, mean_token_prob
from progrpo_eval.reporting.rollouts import read_entropy, rollout_statistics
from progrpo_eval.rescore import ExactOptions, prompt_ids_by_problem, rescore_exact, rescore_topk
from progrpo_eval.runner import RunOptions, run


def h(*probs):
    """-sum p log p, written out for the hand-computed cases."""
    return -sum(p * math.log(p) for p in probs)


# (known probabilities, k, V, lower, upper); the tail mass is r = 1 - sum(known)
TOPK_CASES = [
    # true [0.5, 0.3, 0.1, 0.1]: r = 0.2 over 2 tokens of at most 0.3 -> one token of 0.2 (low),
    # two of 0.1 (high, the truth here); the textbook bound H_k - r log p_k = 0.9486 is looser
    ([0.5, 0.3], 2, 4, h(0.5, 0.3) + h(0.2), h(0.5, 0.3) + 0.2 * math.log(2 / 0.2)),
    ([0.5, 0.3, 0.2], 3, 4, h(0.5, 0.3, 0.2), h(0.5, 0.3, 0.2)),  # r = 0: no tail, one value
    # r = 0.4, cap 0.2: at least two tokens of 0.2; at most 0.4 spread over 8 tokens
    ([0.4, 0.2], 2, 10, h(0.4, 0.2) + h(0.2, 0.2), h(0.4, 0.2) + 0.4 * math.log(8 / 0.4)),
    # vLLM's extra sampled token (0.05) outside the top-2: known mass, the cap stays p_2 = 0.3
    ([0.5, 0.3, 0.05], 2, 5, h(0.5, 0.3, 0.05) + h(0.15), h(0.5, 0.3, 0.05) + 0.15 * math.log(2 / 0.15)),
    ([1.0], 1, 3, 0.0, 0.0),
]


@pytest.mark.parametrize("known, k, vocab_size, low, high", TOPK_CASES)
def test_topk_bounds_by_hand(known, k, vocab_size, low, high):
    bounds = topk_entropy_bounds(np.log([known]), k, vocab_size)
    assert bounds.low[0] == pytest.approx(low, abs=1e-12)
    assert bounds.high[0] == pytest.approx(high, abs=1e-12)


def test_topk_bounds_ignore_order_and_missing_entries():
    rows = np.array([[math.log(0.3), math.log(0.5)], [math.log(0.5), -math.inf]])
    bounds = topk_entropy_bounds(rows, 2, 4)
    assert bounds.low[0] == pytest.approx(h(0.5, 0.3) + h(0.2))
    assert bounds.low[1] == pytest.approx(h(0.5) + h(0.5))  # p_2 unknown: cap p_1, one tail token may hold it all
    assert bounds.high[1] == pytest.approx(h(0.5) + 0.5 * math.log(3 / 0.5))


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40),
    k=st.integers(1, 40),
    sharpness=st.floats(0.2, 12.0),
    with_extra=st.booleans(),
)
def test_true_entropy_lies_within_the_topk_bounds(weights, k, sharpness, with_extra):
    probs = np.exp(sharpness * np.array(weights))
    probs = np.sort(probs / probs.sum())[::-1]
    k = min(k, len(probs))
    truth = -np.sum(probs * np.log(probs))
    known = probs[:k]
    if with_extra and k < len(probs) - 1:
        known = np.append(known, probs[-1])  # a sampled token from the tail, as vLLM adds it
    bounds = topk_entropy_bounds(np.log(known)[None], k, len(probs))
    assert bounds.low[0] - 1e-9 <= truth <= bounds.high[0] + 1e-9
    tail = 1 - known.sum()
    textbook = -np.sum(known * np.log(known)) - tail * math.log(probs[k - 1])
    assert bounds.low[0] >= textbook - 1e-9


@pytest.mark.parametrize("block_size", [1, 3, 50, 64, 1000])
@pytest.mark.parametrize("temperature", [1.0, 0.6, 2.0])
def test_streamed_entropy_equals_the_plain_one(block_size, temperature):
    generator = torch.Generator().manual_seed(block_size)
    logits = torch.randn(37, 64, generator=generator) * 4
    targets = torch.randint(0, 64, (37,), generator=generator)
    streamed = streaming_entropy(logits.split(block_size, dim=-1), temperature=temperature, targets=targets)
    plain = entropy_from_logits(
        logits[None], torch.ones(1, 37, dtype=torch.bool), temperature=temperature, chunk_size=10**9
    )[0]
    assert torch.allclose(streamed.entropy, plain, atol=1e-5)
    assert torch.allclose(streamed.log_normalizer, torch.logsumexp(logits, dim=-1), atol=1e-5)
    expected_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None])[:, 0]
    assert torch.allclose(streamed.target_logprob, expected_logprobs, atol=1e-5)
    at_temperature = torch.log_softmax(logits / temperature, dim=-1).gather(-1, targets[:, None])[:, 0]
    assert torch.allclose(streamed.scaled_target_logprob, at_temperature, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 7, 64])
def test_streamed_entropy_stays_accurate_for_large_logits(block_size):
    """Logits near 50 (30 / T): the entropy is computed relative to the max, so float32 holds 1e-5."""
    logits = torch.randn(37, 64, generator=torch.Generator().manual_seed(0)) * 4 + 30
    streamed = streaming_entropy(logits.split(block_size, dim=-1), temperature=0.6)
    z = logits.double() / 0.6
    truth = torch.logsumexp(z, dim=-1) - (torch.softmax(z, dim=-1) * z).sum(dim=-1)
    assert torch.allclose(streamed.entropy.double(), truth, atol=1e-5)


@pytest.mark.parametrize(
    "row, expected",
    [
        ([-math.inf, 0.0, 0.0], math.log(2)),  # a first block with nothing finite
        ([0.0, -math.inf, 0.0, -math.inf], math.log(2)),
        ([1e4, 0.0, 1e4], math.log(2)),
        ([0.0, -1e4], 0.0),
    ],
)
def test_streamed_entropy_by_hand_with_masked_and_extreme_logits(row, expected):
    streamed = streaming_entropy(torch.tensor([row]).split(1, dim=-1))
    assert streamed.entropy.item() == pytest.approx(expected, abs=1e-6)


# ---- a real run of the tiny model ------------------------------------------------------------

QUIET = Console(file=open(os.devnull, "w"))
FAST = ExactOptions(batch_size=3, chunk_size=5, vocab_chunk_size=100, progress=False)


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir, data_dir, tmp_path_factory):
    """aime24, 2 problems x 2 samples at T = 0.6, top-p 0.95, with top-3 log-probs."""
    options = RunOptions(
        model=str(tiny_model_dir),
        benchmarks=["aime24"],
        backend="hf",
        data_dir=str(data_dir),
        settings=SamplingSettings(n=2, max_tokens=12, top_logprobs=3),
        limit=2,
        score_workers=1,
        out=tmp_path_factory.mktemp("runs"),
    )
    [(_, directory, _)] = run(options, QUIET)
    return directory


@pytest.fixture
def run_copy(run_dir, tmp_path):
    return shutil.copytree(run_dir, tmp_path / "run")


def _rewrite_samples(directory, change):
    """Apply `change(DataFrame) -> DataFrame` to every stored chunk (to fake an older or other run)."""
    for path in sorted((directory / store.SAMPLES_DIR).glob("chunk-*.parquet")):
        pq.write_table(pa.Table.from_pandas(change(pq.read_table(path).to_pandas()), preserve_index=False), path)


def _edit_manifest(directory, **changes):
    manifest = store.read_manifest(directory)
    for key, value in changes.items():
        if key.startswith("sampling."):
            manifest["sampling"][key.split(".", 1)[1]] = value
        else:
            manifest[key] = value
    store.atomic_write_json(directory / store.MANIFEST, manifest)


@torch.no_grad()
def _brute_force_entropy(model_dir, samples, temperature, *, logprobs=False):
    """The whole [1, T, V] logits of each sample and the plain entropy (or the tokens' log-probs) at
    `temperature`: the unchunked truth."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    results = []
    for prompt, response in zip(samples["prompt_token_ids"], samples["token_ids"]):
        ids = torch.tensor([list(prompt) + list(response)])
        logits = model(input_ids=ids).logits[:, len(prompt) - 1 : -1]  # [1, L, V]
        mask = torch.ones(logits.shape[:2], dtype=torch.bool)
        if logprobs:
            scaled = torch.log_softmax(logits[0] / temperature, dim=-1)
            results.append(scaled.gather(-1, torch.tensor(list(response))[:, None])[:, 0].numpy())
            continue
        results.append(entropy_from_logits(logits, mask, temperature=temperature, chunk_size=10**9)[0].numpy())
    return results


@pytest.mark.parametrize("given, temperature", [(None, 1.0), (0.6, 0.6)])
def test_exact_rescoring_matches_a_brute_force_forward_pass(run_copy, tiny_model_dir, given, temperature):
    """At T = 1 by default (the policy's own distribution), not at the run's sampling temperature (0.6)."""
    provenance = rescore_exact(run_copy, ExactOptions(**{**FAST.__dict__, "temperature": given}))
    samples = store.load_samples(run_copy)
    table, stored_provenance = read_entropy(run_copy, "exact")
    assert stored_provenance == provenance == json.loads((run_copy / "extras" / "entropy.json").read_text())
    keys = list(zip(samples["problem_id"], samples["sample_index"]))
    assert list(zip(table["problem_id"], table["sample_index"])) == keys
    truth = _brute_force_entropy(tiny_model_dir, samples, temperature)
    for got, mean, expected in zip(table["entropy"], table["mean_entropy"], truth):
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert mean == pytest.approx(float(np.mean(got)), rel=1e-6)
    for got, expected in zip(
        table["logprobs"], _brute_force_entropy(tiny_model_dir, samples, temperature, logprobs=True)
    ):
        np.testing.assert_allclose(got, expected, atol=1e-4)  # the tokens' log-probs at the same temperature
    assert provenance["method"] == "exact" and provenance["temperature"] == temperature
    assert provenance["sampling_temperature"] == 0.6
    assert provenance["top_p_applied"] is False
    assert provenance["tokens"] == int(samples["num_tokens"].sum()) > 0
    assert provenance["max_abs_logprob_diff_vs_stored"] <= 1e-3
    assert provenance["dtype"] == "float32" and provenance["device"] == "cpu" and provenance["prompts"] == "stored"
    assert provenance["model"] == str(tiny_model_dir.resolve())


def test_rerun_overwrites_with_the_same_numbers(run_copy):
    rescore_exact(run_copy, FAST)
    first = read_entropy(run_copy, "exact")[0]
    rescore_exact(run_copy, ExactOptions(batch_size=1, chunk_size=512, vocab_chunk_size=10**6, progress=False))
    second = read_entropy(run_copy, "exact")[0]
    for a, b in zip(first["entropy"], second["entropy"]):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert sorted(p.name for p in (run_copy / "extras").iterdir()) == ["entropy.json", "entropy.parquet"]


def test_prompts_are_rebuilt_when_not_stored_and_checked(run_copy, tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    stored_samples = store.load_samples(run_copy)
    stored, source = prompt_ids_by_problem(store.read_manifest(run_copy), stored_samples, tokenizer=tokenizer)
    assert source == "stored"

    _rewrite_samples(run_copy, lambda frame: frame.drop(columns=["prompt_token_ids"]))
    older = store.load_samples(run_copy)
    rebuilt, source = prompt_ids_by_problem(store.read_manifest(run_copy), older)
    assert source.startswith("rebuilt") and rebuilt == stored
    provenance = rescore_exact(run_copy, FAST)  # an older run: rebuilt prompts give the stored log-probs back
    assert provenance["prompts"].startswith("rebuilt") and provenance["max_abs_logprob_diff_vs_stored"] <= 1e-3

    manifest = store.read_manifest(run_copy)
    with pytest.raises(ValueError, match="chat template"):
        prompt_ids_by_problem({**manifest, "prompt_sha256": "0" * 64}, older)
    _edit_manifest(run_copy, data_checksum="0" * 64)
    with pytest.raises(ValueError, match="checksum"):
        prompt_ids_by_problem(store.read_manifest(run_copy), older)
    # stored prompt ids need no data at all
    assert prompt_ids_by_problem(store.read_manifest(run_copy), stored_samples, tokenizer=tokenizer)[0] == stored


def test_topk_bounds_hold_the_exact_entropy_at_temperature_one(run_copy, tiny_model_dir):
    rescore_exact(run_copy, ExactOptions(temperature=1.0, progress=False))
    provenance = rescore_topk(run_copy)
    exact, exact_provenance = read_entropy(run_copy, "exact")
    bounds, _ = read_entropy(run_copy, "topk")
    assert exact_provenance["temperature"] == 1.0 and exact_provenance["temperature_source"] == "given"
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert provenance["k"] == 3 and provenance["vocab_size"] == config["vocab_size"]
    assert provenance["temperature"] == "1.0 (raw log-probs as stored)"
    for truth, low, high in zip(exact["entropy"], bounds["entropy_low"], bounds["entropy_high"]):
        assert np.all(low <= truth + 1e-3) and np.all(truth <= high + 1e-3) and np.all(low <= high)


def test_rollout_statistics_gather_token_statistics_and_entropy(run_copy):
    plain = rollout_statistics(run_copy)
    assert plain["entropy_method"].eq("none").all() and "mean_entropy" not in plain
    rescore_exact(run_copy, FAST)
    rescore_topk(run_copy)
    table = rollout_statistics(run_copy)
    samples = store.load_samples(run_copy)
    assert list(table.columns) == [
        "problem_id",
        "sample_index",
        "correct",
        "num_tokens",
        "mean_token_prob",
        "low_prob_mean",
        "confidence",
        "mean_entropy",
        "entropy_low",
        "entropy_high",
        "entropy_method",
        "temperature",
    ]
    row = table.iloc[1]
    logprobs = np.asarray(samples["logprobs"].iloc[1], np.float64)[None]
    mask = np.ones_like(logprobs, bool)
    assert row["mean_token_prob"] == pytest.approx(mean_token_prob(logprobs, mask)[0])
    assert row["low_prob_mean"] == pytest.approx(low_prob_mean(logprobs, mask)[0])
    assert row["confidence"] == pytest.approx(low_prob_confidence(logprobs, mask)[0])
    assert row["mean_entropy"] == pytest.approx(float(np.mean(read_entropy(run_copy)[0]["entropy"].iloc[1])))
    assert set(table["entropy_method"]) == {"exact:T=1+topk:k=3,T=1"}
    # at the sampling temperature: the probabilities and the entropy of one rescore at T = 0.6
    rescore_exact(run_copy, ExactOptions(**{**FAST.__dict__, "temperature": 0.6}))
    warm = rollout_statistics(run_copy, temperature=0.6)
    scaled = np.asarray(read_entropy(run_copy)[0]["logprobs"].iloc[1], np.float64)[None]
    assert warm.iloc[1]["mean_token_prob"] == pytest.approx(mean_token_prob(scaled, mask)[0])
    assert warm.iloc[1]["mean_token_prob"] != pytest.approx(row["mean_token_prob"])
    assert set(warm["entropy_method"]) == {"exact:T=0.6"} and "entropy_low" not in warm  # top-k bounds are at T=1
    assert "mean_entropy" not in rollout_statistics(run_copy)  # T = 1: the T = 0.6 entropy is not mixed in


def _cli(*args):
    return CliRunner().invoke(app, ["rescore", *map(str, args)])


def test_cli_rescores_and_explains_what_is_missing(run_copy):
    done = _cli(run_copy, "--entropy", "exact", "--chunk-size", "4", "--batch-size", "2")
    assert done.exit_code == 0, done.output
    assert (run_copy / "extras" / "entropy.parquet").is_file() and "max |logprob diff|" in done.output
    assert _cli(run_copy, "--entropy", "topk").exit_code == 0
    assert _cli(run_copy, "--entropy", "mean").output.count("unknown entropy method 'mean'") == 1

    _rewrite_samples(run_copy, lambda frame: frame.assign(top_logprobs=None))
    _edit_manifest(run_copy, **{"sampling.top_logprobs": 0})
    missing = _cli(run_copy, "--entropy", "topk")
    assert missing.exit_code == 2 and "run with --top-logprobs K" in missing.output
    assert _cli(run_copy.parent / "nowhere").exit_code == 2
