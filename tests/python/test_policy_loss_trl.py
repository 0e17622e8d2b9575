"""lens's fused policy loss against TRL's own GRPOTrainer._compute_loss (the
installed trl): a trainer object carrying only the attributes that method
reads, its model call replaced by the log-probs under test, every loss type
lens covers (grpo, bnpo, dr_grpo, dapo, cispo, sapo) with and without delta,
beta (KL) and vLLM importance sampling; loss and the autograd gradient through
TRL's code, float64, 1e-6 relative."""

from __future__ import annotations

import itertools
import zlib
import math
import warnings
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch

warnings.filterwarnings("ignore")
grpo_trainer = pytest.importorskip("trl.trainer.grpo_trainer")

import lens.policy_loss as lpl  # noqa: E402

REL = 1e-6


def trl_trainer(loss_type, epsilon, epsilon_high, delta, beta, use_is, max_len):
    trainer = object.__new__(grpo_trainer.GRPOTrainer)
    fields = dict(
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        loss_type=loss_type,
        epsilon_low=epsilon,
        epsilon_high=epsilon_high,
        args=SimpleNamespace(
            delta=delta,
            use_bias_correction_kl=False,
            sapo_temperature_pos=1.0,
            sapo_temperature_neg=1.05,
            steps_per_generation=1,
        ),
        use_vllm=use_is,
        vllm_importance_sampling_correction=use_is,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        aux_loss_enabled=False,
        _entropy_bonus_enabled=False,
        max_completion_length=max_len,
        accelerator=SimpleNamespace(num_processes=1, reduce=lambda x, reduction="sum": x, gather=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )
    for k, v in fields.items():
        object.__setattr__(trainer, k, v)
    return trainer


def trl_is_ratio(old, sampling, mask, mode, clip_max, clip_min):
    """The importance_sampling_ratio TRL's _generate_and_score_completions stores."""
    diff = (old - sampling) * mask
    if mode.startswith("sequence"):
        diff = diff.sum(dim=-1, keepdim=True)
    ratio = torch.exp(diff)
    if mode.endswith("truncate"):
        return torch.clamp(ratio, min=clip_min, max=clip_max)
    lo = clip_min if clip_min is not None else -math.inf
    hi = clip_max if clip_max is not None else math.inf
    return ratio.masked_fill((ratio < lo) | (ratio > hi), 0.0)


def lens_settings(loss_type, epsilon, epsilon_high, delta, n, max_len, num_items):
    # TRL divides a row by its token count clamped at 1, with no 1e-8 (verl's agg_loss adds one)
    base = dict(clip_ratio_low=epsilon, clip_ratio_high=epsilon_high, row_length_epsilon=0.0)
    if loss_type in ("grpo", "bnpo", "dr_grpo", "dapo"):
        base.update(kind="two_sided", delta=delta or 0.0)
    if loss_type == "grpo":
        base.update(aggregation="seq-mean-token-mean", global_sequence_count=n)
    if loss_type == "bnpo":
        base.update(aggregation="token-mean")
    if loss_type == "dr_grpo":
        base.update(aggregation="seq-mean-token-sum-norm", global_sequence_count=n, loss_scale_factor=max_len)
    if loss_type in ("dapo", "cispo"):
        base.update(aggregation="token-mean", global_token_count=num_items)
    if loss_type == "cispo":  # TRL: clamp(r, max=epsilon_high), no lower bound
        base.update(kind="cispo", clip_ratio_low=1.0, clip_ratio_high=epsilon_high - 1.0)
    if loss_type == "sapo":
        base.update(kind="sapo", aggregation="seq-mean-token-mean", global_sequence_count=n)
    return base


# delta (TRL's upper clamp) applies to the two-sided clip only: not to cispo or sapo.
CASES = [
    case
    for case in itertools.product(
        ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo"],
        [None, 1.6],  # delta
        [0.0, 0.04],  # beta
        [None, "token_truncate", "token_mask", "sequence_truncate", "sequence_mask"],
    )
    if not (case[1] is not None and case[0] in ("cispo", "sapo"))
]


@pytest.mark.parametrize("loss_type,delta,beta,is_mode", CASES)
def test_matches_trl_compute_loss(loss_type, delta, beta, is_mode):
    rng = np.random.default_rng(zlib.crc32(repr((loss_type, delta, beta, is_mode)).encode()))
    n, t = 6, 11
    lengths = rng.integers(1, t + 1, size=n)
    mask = torch.from_numpy((np.arange(t)[None, :] < lengths[:, None]).astype(np.int64))
    logp = torch.from_numpy(-0.05 - 3.0 * rng.random((n, t)))
    old = torch.clamp(logp + 0.3 * torch.from_numpy(rng.normal(size=(n, t))), max=0.0)
    ref = torch.clamp(logp + 0.4 * torch.from_numpy(rng.normal(size=(n, t))), max=0.0)
    sampling = torch.clamp(old + 0.05 * torch.from_numpy(rng.normal(size=(n, t))), max=0.0)
    adv = torch.from_numpy(rng.normal(size=n))
    epsilon, epsilon_high = 0.2, (5.0 if loss_type == "cispo" else 0.28)
    max_len = 16
    num_items = float(mask.sum()) * 1.5  # a micro-batch of a larger step
    clip_max, clip_min = 3.0, (0.5 if is_mode and is_mode.endswith("truncate") else None)

    trainer = trl_trainer(loss_type, epsilon, epsilon_high, delta, beta, is_mode is not None, max_len)
    x_trl = logp.clone().requires_grad_(True)
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (x_trl, torch.zeros_like(x_trl), None)
    inputs = {
        "prompt_ids": torch.zeros((n, 1), dtype=torch.long),
        "prompt_mask": torch.ones((n, 1), dtype=torch.long),
        "completion_ids": torch.zeros((n, t), dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
        "num_items_in_batch": torch.tensor(num_items),
    }
    if is_mode:
        inputs["importance_sampling_ratio"] = trl_is_ratio(old, sampling, mask, is_mode, clip_max, clip_min)
    trl_loss = trainer._compute_loss(None, inputs)
    trl_loss.backward()

    settings = lens_settings(loss_type, epsilon, epsilon_high, delta, n, max_len, num_items)
    if beta:
        settings.update(kl="k3", kl_coef=beta)
    if is_mode:
        level, mode = is_mode.split("_")
        settings.update(is_level=level, is_mode=mode, is_threshold=clip_max, is_threshold_low=clip_min or 0.0)
    x = logp.clone().requires_grad_(True)
    loss, metrics = lpl.policy_loss(x, old, adv, mask, ref_log_prob=ref, rollout_log_prob=sampling, **settings)
    loss.backward()
    what = f"{loss_type} delta={delta} beta={beta} is={is_mode}"
    assert abs(loss.item() - trl_loss.item()) <= 1e-12 + REL * abs(trl_loss.item()), what
    assert torch.allclose(x.grad, x_trl.grad, rtol=REL, atol=1e-12), what
    if loss_type in ("grpo", "bnpo", "dr_grpo", "dapo"):
        m = lpl.metrics_dict(metrics)
        assert abs(m["clipfrac_high"] - trainer._metrics["train"]["clip_ratio/high_mean"][0]) < 1e-6, what  # TRL: float32 counts
        assert abs(m["clipfrac_low"] - trainer._metrics["train"]["clip_ratio/low_mean"][0]) < 1e-6, what
    if beta:
        assert abs(lpl.metrics_dict(metrics)["kl_mean"] - trainer._metrics["train"]["kl"][0]) <= 1e-9, what
