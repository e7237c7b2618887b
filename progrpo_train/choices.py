"""The named choices of `algorithm.py`'s functions, defined once as Literal types.

The config's fields are typed with these Literals (so a recipe's value is checked against them)
and `algorithm.py` checks its arguments against the tuples derived from them. This module needs
no torch, so loading a config (and `progrpo-train --help`) stays fast.
"""

from __future__ import annotations

from typing import Literal, get_args

StdMode = Literal["unbiased", "population"]  # grpo_advantages(std=...)
Reweight = Literal["prompt", "group_mean", "exploratory", "absolute"]  # progrpo_advantages(reweight=...)
Gate = Literal["mixed", "any_correct"]  # progrpo_advantages(gate=...)
Aggregation = Literal["token-mean", "group-token-mean", "seq-mean-token-mean"]  # policy_loss(aggregation=...)
PolicyLoss = Literal["ppo_clip", "kl_cov", "clip_cov", "flowrl"]  # algorithm.loss: policy_loss(loss=...) or FlowRL
KLEstimator = Literal["k1", "k2", "k3", "abs"]  # kl_penalty(estimator=...), verl's names

STD_MODES: tuple[str, ...] = get_args(StdMode)
REWEIGHT_MODES: tuple[str, ...] = get_args(Reweight)
GATE_MODES: tuple[str, ...] = get_args(Gate)
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
POLICY_LOSSES: tuple[str, ...] = get_args(PolicyLoss)
KL_ESTIMATORS: tuple[str, ...] = get_args(KLEstimator)
