"""lens's fused policy losses as a torch operator with autograd.

    import lens.policy_loss as lpl
    loss, metrics = lpl.policy_loss(log_prob, old_log_prob, advantages, response_mask,
                                    kind="vanilla", clip_ratio_high=0.28)
    loss.backward()            # log_prob.grad: the gradient lens computed in the forward pass
    metrics["pg_clipfrac"]     # verl's actor/pg_clipfrac, and the rest of METRIC_FIELDS

torch.ops.lens.policy_loss is a torch.library.custom_op: one C++ pass (the
CPU backend, lens/cpu/policy_loss.hpp) computes the loss, the metrics and
d loss / d log_prob; the gradient is saved, and backward only scales it by the
incoming gradient. It has a fake implementation, so torch.compile traces it
without a graph break. Settings follow verl's config names and defaults
(docs/LOSS.md): kind in vanilla / gspo / cispo / sapo / two_sided (TRL's
clip with `delta`), kl in none / k1 / abs / k2 / k3 (and verl's aliases
kl / mse / low_var_kl, "+" for the straight-through variants), aggregation in
verl's loss_agg_mode strings.
"""

from __future__ import annotations

from typing import Optional

import torch

from . import _lens

METRIC_FIELDS = (
    "loss",
    "pg_loss",
    "kl_loss",
    "kl_mean",
    "pg_clipfrac",
    "clipfrac_high",
    "clipfrac_low",
    "clipfrac_dual",
    "ppo_kl",
    "is_weight_mean",
    "is_weight_min",
    "is_weight_max",
    "is_fraction_high",
    "is_fraction_low",
    "num_tokens",
    "num_sequences",
)

# Every setting with its default (lens::policy_loss_settings; verl ActorConfig unless noted).
DEFAULTS = {
    "kind": "vanilla",
    "clip_ratio_low": 0.2,
    "clip_ratio_high": 0.2,
    "clip_ratio_c": 3.0,
    "delta": 0.0,  # TRL delta; 0 = off
    "tau_pos": 1.0,
    "tau_neg": 1.05,
    "kl": "none",
    "kl_coef": 0.001,
    "is_level": "none",
    "is_mode": "truncate",
    "is_threshold": 2.0,
    "is_threshold_low": 0.0,
    "aggregation": "token-mean",
    "loss_scale_factor": 0.0,  # 0 = T
    "global_token_count": 0.0,  # 0 = this batch's tokens
    "global_sequence_count": 0.0,  # 0 = this batch's non-empty rows
    "row_length_epsilon": 1e-8,  # verl's agg_loss; TRL: 0
    "logprob_tolerance": 1e-4,
}


def _flat(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if t is None else t.detach().contiguous()


@torch.library.custom_op("lens::policy_loss", mutates_args=())
def _policy_loss_op(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    ref_log_prob: Optional[torch.Tensor],
    rollout_log_prob: Optional[torch.Tensor],
    kind: str,
    clip_ratio_low: float,
    clip_ratio_high: float,
    clip_ratio_c: float,
    delta: float,
    tau_pos: float,
    tau_neg: float,
    kl: str,
    kl_coef: float,
    is_level: str,
    is_mode: str,
    is_threshold: float,
    is_threshold_low: float,
    aggregation: str,
    loss_scale_factor: float,
    global_token_count: float,
    global_sequence_count: float,
    row_length_epsilon: float,
    logprob_tolerance: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lp = _flat(log_prob)
    grad = torch.empty_like(lp)
    metrics = torch.empty(len(METRIC_FIELDS), dtype=torch.float64)
    _lens.policy_loss(
        lp,
        _flat(old_log_prob),
        _flat(advantages),
        _flat(response_mask),
        _flat(ref_log_prob),
        _flat(rollout_log_prob),
        grad,
        metrics,
        kind,
        clip_ratio_low,
        clip_ratio_high,
        clip_ratio_c,
        delta,
        tau_pos,
        tau_neg,
        kl,
        kl_coef,
        is_level,
        is_mode,
        is_threshold,
        is_threshold_low,
        aggregation,
        loss_scale_factor,
        global_token_count,
        global_sequence_count,
        row_length_epsilon,
        logprob_tolerance,
    )
    loss = metrics[0].to(lp.dtype).clone()
    return loss, grad, metrics


@_policy_loss_op.register_fake
def _policy_loss_fake(log_prob, old_log_prob, advantages, response_mask, ref_log_prob, rollout_log_prob, *settings):
    return (
        log_prob.new_empty(()),
        torch.empty_like(log_prob),
        torch.empty((len(METRIC_FIELDS),), dtype=torch.float64, device=log_prob.device),
    )


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(output[1])


def _backward(ctx, grad_loss, grad_grad, grad_metrics):
    (saved,) = ctx.saved_tensors
    return (saved * grad_loss,) + (None,) * (5 + len(DEFAULTS))  # no gradient for the other inputs and settings


_policy_loss_op.register_autograd(_backward, setup_context=_setup_context)


def settings_args(**settings) -> list:
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"lens: unknown policy-loss settings {sorted(unknown)}; known: {list(DEFAULTS)}")
    merged = {**DEFAULTS, **settings}
    return [
        (str(merged[k]) if isinstance(DEFAULTS[k], str) else float(merged[k]))
        for k in DEFAULTS
    ]


def policy_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    ref_log_prob: Optional[torch.Tensor] = None,
    rollout_log_prob: Optional[torch.Tensor] = None,
    **settings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss (differentiable in log_prob) and the metrics tensor [16] float64
    (names in METRIC_FIELDS; metrics_dict() turns it into a dict)."""
    loss, _, metrics = torch.ops.lens.policy_loss(
        log_prob, old_log_prob, advantages, response_mask, ref_log_prob, rollout_log_prob, *settings_args(**settings)
    )
    return loss, metrics


def metrics_dict(metrics: torch.Tensor) -> dict:
    values = metrics.tolist()
    return {name: values[k] for k, name in enumerate(METRIC_FIELDS)}
