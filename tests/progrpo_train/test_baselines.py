"""The baselines' losses (KL-Cov, Clip-Cov, FlowRL, the KL estimators) against values computed by
hand, the covariance selection's invariance to how a mini-batch is split, and verl's reference
functions where verl is importable (the `.venv-verl` overlay: `make venv-verl`)."""

import math
from types import SimpleNamespace

import pytest
import torch

from progrpo_train.algorithm import kl_penalty, policy_loss
from progrpo_train.covariance import clip_cov_selection, covariance, kl_cov_selection, mini_batch_means, select_top
from progrpo_train.flowrl import LogZHead, flowrl_loss, prompt_representation

T = torch.tensor

# Two responses, A = +1 and -1; the last token of row 1 is padding. log rho = D.
LOGPROBS = T([[-1.0, -2.0, -0.5], [-1.5, -0.2, 7.0]], dtype=torch.float64)
D = T([[0.1, -0.2, 0.3], [0.05, -0.1, 0.0]], dtype=torch.float64)
OLD = LOGPROBS - D
ADV = T([1.0, -1.0], dtype=torch.float64)
MASK = T([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
# mean A = (3 - 2) / 5 = 0.2, mean log pi = -5.2 / 5 = -1.04, so Cov =
#   row 0: 0.8 * [0.04, -0.96, 0.54] = [0.032, -0.768, 0.432];  row 1: -1.2 * [-0.46, 0.84] = [0.552, -1.008]
COV = T([[0.032, -0.768, 0.432], [0.552, -1.008, 0.0]], dtype=torch.float64)
e = math.exp


def test_covariance_by_hand():
    assert torch.allclose(covariance(LOGPROBS, ADV, MASK), COV, atol=1e-12)
    assert mini_batch_means(LOGPROBS, ADV, MASK) == pytest.approx((0.2, -1.04))


def test_kl_cov_selects_the_largest_covariances_and_penalises_them_by_hand():
    selection = kl_cov_selection(LOGPROBS, ADV, MASK, kl_cov_ratio=0.4)  # k = floor(0.4 * 5) = 2
    assert selection.tolist() == [[False, False, True], [True, False, False]]  # 0.432 and 0.552
    loss, stats = policy_loss(LOGPROBS, OLD, ADV, MASK, loss="kl_cov", kl_cov_ratio=0.4, ppo_kl_coef=1.0)
    objective = e(0.1) + e(-0.2) + (e(0.3) - 0.3) + (-e(0.05) - 0.05) - e(-0.1)  # rho A - |log rho| on S
    assert loss.item() == pytest.approx(-objective / 5, abs=1e-12)
    assert stats.selected_fraction.item() == pytest.approx(2 / 5) and stats.clip_fraction.item() == 0


def test_kl_cov_selects_at_least_one_token():
    assert kl_cov_selection(LOGPROBS, ADV, MASK, kl_cov_ratio=0.0002).sum() == 1


def test_clip_cov_draws_among_unclipped_tokens_within_the_bounds_by_hand():
    # (0, 0.5) holds 0.032 and 0.432; rho = e^0.3 = 1.35 > 1.28 with A > 0 is already clipped: only (0, 0) remains.
    selection = clip_cov_selection(LOGPROBS, OLD, ADV, MASK, clip_cov_ratio=0.4, clip_cov_lb=0.0, clip_cov_ub=0.5)
    assert selection.tolist() == [[True, False, False], [False, False, False]]
    loss, stats = policy_loss(
        LOGPROBS, OLD, ADV, MASK, loss="clip_cov", clip_cov_ratio=0.4, clip_cov_lb=0.0, clip_cov_ub=0.5
    )
    objective = 0.0 + e(-0.2) + 1.28 - e(0.05) - e(-0.1)  # (0, 0) dropped, (0, 2) clipped at 1.28
    assert loss.item() == pytest.approx(-objective / 5, abs=1e-12)
    assert stats.selected_fraction.item() == pytest.approx(1 / 5)


def test_clip_cov_takes_the_given_selection():
    given = T([[False, True, False], [False, False, True]])  # the masked (1, 2) does not count
    loss, _ = policy_loss(LOGPROBS, OLD, ADV, MASK, loss="clip_cov", token_selection=given)
    assert loss.item() == pytest.approx(-(e(0.1) + 1.28 - e(0.05) - e(-0.1)) / 5, abs=1e-12)


def test_clip_cov_draw_is_seeded():
    generator = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    logprobs, old = torch.randn(4, 50, dtype=torch.float64), torch.randn(4, 50, dtype=torch.float64)
    advantages, mask = torch.randn(4, dtype=torch.float64), torch.ones(4, 50, dtype=torch.bool)
    first, second = (
        clip_cov_selection(
            logprobs, old, advantages, mask, clip_cov_ratio=0.05, clip_cov_lb=-9, clip_cov_ub=9, generator=generator()
        )
        for _ in range(2)
    )
    assert torch.equal(first, second) and first.sum() == 10


class ReplayGather:
    """Two simulated processes: a first pass records what each offers, a second pass gets both."""

    def __init__(self):
        self.offered = {0: [], 1: []}

    def recorder(self, rank):
        return lambda tensor: self.offered[rank].append(tensor) or tensor

    def replayer(self):
        calls = iter(range(100))
        return lambda tensor: (lambda i: torch.cat([self.offered[0][i], self.offered[1][i]]))(next(calls))


@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_select_top_over_two_processes_equals_one_batch(k):
    generator = torch.Generator().manual_seed(k)
    scores = torch.randint(0, 4, (6, 8), generator=generator).double()  # many ties
    eligible = torch.rand(6, 8, generator=generator) > 0.3
    keys = torch.rand(6, 8, generator=generator, dtype=torch.float64)
    whole = select_top(scores, eligible, k, keys)
    assert whole.sum() == min(k, int(eligible.sum()))
    parts, gather = (slice(0, 2), slice(2, 6)), ReplayGather()
    for rank, rows in enumerate(parts):
        select_top(scores[rows], eligible[rows], k, keys[rows], gather.recorder(rank))
    split = torch.cat([select_top(scores[rows], eligible[rows], k, keys[rows], gather.replayer()) for rows in parts])
    assert torch.equal(split, whole)


@pytest.mark.parametrize(
    "estimator, expected",
    [("k1", math.log(2)), ("abs", math.log(2)), ("k2", 0.5 * math.log(2) ** 2), ("k3", 0.5 + math.log(2) - 1)],
)
def test_kl_estimators_by_hand(estimator, expected):
    # log pi = log 0.5, log pi_ref = log 0.25; k3 = exp(log pi_ref - log pi) - (log pi_ref - log pi) - 1
    got = kl_penalty(T([[math.log(0.5)]]), T([[math.log(0.25)]]), estimator)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_kl_estimator_k3_is_clamped_as_verl():
    assert kl_penalty(T([[-50.0]]), T([[0.0]]), "k3").item() == 10.0


def test_flowrl_loss_by_hand():
    logprobs = T([[-1.0, -3.0], [-2.0, 9.0]], dtype=torch.float64, requires_grad=True)
    old = T([[-1.2, -3.1], [-1.0, 0.0]], dtype=torch.float64)
    ref = T([[-0.5, -2.5], [-2.5, 0.0]], dtype=torch.float64)
    mask = T([[1, 1], [1, 0]], dtype=torch.bool)
    log_z = T([0.5, -0.2], dtype=torch.float64, requires_grad=True)
    # row 0: delta = 0.5 + (-2) - 2 * 1 - (-1.5) = -2.0;  w = min(e^(0.2 + 0.1), 1.2) = 1.2 (capped)
    # row 1: delta = -0.2 + (-2) - 2 * (-1) - (-2.5) = 2.3;  w = min(e^(-1), 1.2) = e^-1
    loss, stats = flowrl_loss(
        logprobs, old, ref, log_z, T([1.0, -1.0], dtype=torch.float64), mask, beta=2.0, weight_cap=1.2
    )
    assert loss.item() == pytest.approx((1.2 * 4.0 + e(-1) * 2.3**2) / 2, abs=1e-12)
    assert stats.capped_fraction.item() == 0.5 and stats.residual_mean.item() == pytest.approx(0.15)
    loss.backward()
    assert log_z.grad.tolist() == pytest.approx([1.2 * -2.0, e(-1) * 2.3])  # d/d log Z = w delta (mean of 2)
    assert logprobs.grad[1, 1].item() == 0.0  # padding gets no gradient


def test_log_z_head_reads_the_prompt_but_its_last_token():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    prompt_mask = T([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)  # prompts of 3 and 2 tokens
    assert torch.equal(prompt_representation(hidden, prompt_mask), torch.stack([hidden[0, :2].mean(0), hidden[1, 0]]))
    head = LogZHead(3, layers=3, dropout=0.1)
    assert head(torch.zeros(5, 3)).shape == (5,) and len([m for m in head.net if isinstance(m, torch.nn.Linear)]) == 3


# ------------------------------------------------------------------ verl's reference functions
def _verl():
    try:
        from verl.trainer.ppo import core_algos
    except Exception as error:  # not installed here, or its stack fails to import
        pytest.skip(f"verl is not importable in this venv ({type(error).__name__}); run with .venv-verl")
    return core_algos


def _random_batch(seed):
    generator = torch.Generator().manual_seed(seed)
    old = -torch.rand(6, 40, generator=generator) * 3
    logprobs = old + 0.3 * torch.randn(6, 40, generator=generator)
    advantages = torch.randn(6, generator=generator)
    mask = torch.rand(6, 40, generator=generator) > 0.2
    return logprobs, old, advantages, mask


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean-token-mean"])
def test_kl_cov_equals_verls(seed, aggregation):
    core_algos = _verl()
    logprobs, old, advantages, mask = _random_batch(seed)
    config = SimpleNamespace(policy_loss=SimpleNamespace(kl_cov_ratio=0.02, ppo_kl_coef=0.7), global_batch_info={})
    expected = core_algos.compute_policy_loss_kl_cov(
        old, logprobs, advantages[:, None] * mask, mask.float(), loss_agg_mode=aggregation, config=config
    )[0]
    ours, _ = policy_loss(
        logprobs, old, advantages, mask, loss="kl_cov", kl_cov_ratio=0.02, ppo_kl_coef=0.7, aggregation=aggregation
    )
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_clip_cov_equals_verls_given_the_same_selection(seed):
    core_algos = _verl()
    logprobs, old, advantages, mask = _random_batch(seed)
    config = SimpleNamespace(
        clip_ratio=0.2,
        clip_ratio_low=0.2,
        clip_ratio_high=0.28,
        global_batch_info={},
        policy_loss=SimpleNamespace(clip_cov_ratio=0.05, clip_cov_lb=-1.0, clip_cov_ub=1.0),
    )
    torch.manual_seed(seed)  # verl draws with torch.randperm on the global generator
    expected, verl_stats = core_algos.compute_policy_loss_clip_cov(
        old, logprobs, advantages[:, None] * mask, mask.float(), loss_agg_mode="token-mean", config=config
    )[:2]
    expected_fraction = verl_stats["actor/pg_clipfrac"] if isinstance(verl_stats, dict) else verl_stats.item()
    torch.manual_seed(seed)
    selection = clip_cov_selection(
        logprobs,
        old,
        advantages,
        mask,
        clip_cov_ratio=0.05,
        clip_cov_lb=-1.0,
        clip_cov_ub=1.0,
        generator=torch.default_generator,
    )
    ours, stats = policy_loss(logprobs, old, advantages, mask, loss="clip_cov", token_selection=selection)
    assert selection.any()
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-7)
    assert stats.selected_fraction.item() == pytest.approx(expected_fraction)


@pytest.mark.parametrize("estimator, verl_name", [("k1", "kl"), ("k2", "mse"), ("k3", "low_var_kl"), ("abs", "abs")])
def test_kl_estimators_equal_verls(estimator, verl_name):
    core_algos = _verl()
    logprobs, ref, _, _ = _random_batch(11)
    expected = core_algos.kl_penalty(logprobs, ref, verl_name)
    assert torch.allclose(kl_penalty(logprobs, ref, estimator), expected, atol=1e-6)
