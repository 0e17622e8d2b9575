"""lens.compute_advantages: GRPO-family and LENS advantages from verl's tensors
(or numpy arrays), through the C++ core. Inputs are read in place; outputs are
allocated by the caller's framework (torch.empty or numpy.empty)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _lens
from .settings import Settings, make_settings, native

try:  # torch is optional: numpy arrays work without it
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None

#: The order of the numbers in AdvantageResult.summary_tensor.
SUMMARY_FIELDS = (
    "num_samples",
    "num_groups",
    "num_negative_groups",
    "num_zero_variance_groups",
    "num_nonzero_advantages",
    "negative_group_fraction",
    "gradient_sample_fraction",
)


@dataclass
class AdvantageResult:
    """What lens.compute_advantages returns.

    advantages: [N] one advantage per sample; token_advantages: [N, T]
    advantages[i] * response_mask[i, t] (None for per-sample inputs);
    summary: the batch numbers a trainer logs (dict); group_stats: per-group
    size, num_correct, mean, std, difficulty, negative, zero_variance and
    group_id (the caller's id objects for a uid index), when asked for."""

    advantages: Any
    token_advantages: Any
    summary_tensor: Any = None
    group_stats: Optional[dict] = None

    @property
    def summary(self) -> dict:
        values = self.summary_tensor.tolist()
        return {k: (v if k.endswith("fraction") else int(v)) for k, v in zip(SUMMARY_FIELDS, values)}


def _is_torch(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or _is_torch(x)


def index_to_ids(index: Any) -> tuple[Any, Optional[list]]:
    """verl's index (a numpy array of uid strings or other hashables, a list,
    or int64 ids as a tensor or array) as int64 ids, plus the distinct objects
    in order of first appearance when they had to be numbered."""
    if _is_torch(index):
        if index.dtype != torch.int64:
            raise ValueError(f"lens: index has dtype {index.dtype}; a tensor index must hold int64 ids")
        return index, None
    if isinstance(index, np.ndarray) and index.dtype == np.int64:
        return index, None
    if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
        raise ValueError(f"lens: index has dtype {index.dtype}; pass int64 ids (index.astype(np.int64))")
    numbers, distinct = _lens.number_objects(index)
    return numbers, distinct


def _summary_array(summary: dict) -> np.ndarray:
    return np.array([summary[k] for k in SUMMARY_FIELDS], dtype=np.float64)


def _plain(x: Any) -> Any:
    """A torch tensor as the C++ side reads it: no autograd history."""
    return x.detach() if _is_torch(x) and x.requires_grad else x


def run_token_advantages(
    rewards: Any,
    response_mask: Any,
    ids: Any,
    group_size: int,
    old_log_probs: Any,
    settings: Settings,
    want_statistics: bool,
) -> tuple[Any, Any, dict, Optional[dict]]:
    """Allocates the outputs in the inputs' framework and runs the C++ core.
    settings: a Settings, its flat list of scalars, or the C++ struct."""
    settings = native(settings)
    rewards, response_mask, ids, old_log_probs = map(_plain, (rewards, response_mask, ids, old_log_probs))
    advantages = token_advantages = None  # a mask that is not [N, T] is rejected by the core, naming it
    if getattr(response_mask, "ndim", None) == 2:
        n, t = response_mask.shape
        if _is_torch(rewards):
            advantages = torch.empty((n,), dtype=rewards.dtype, device=rewards.device)
            token_advantages = torch.empty((n, t), dtype=rewards.dtype, device=rewards.device)
        else:
            advantages = np.empty((n,), dtype=rewards.dtype)
            token_advantages = np.empty((n, t), dtype=rewards.dtype)
    per_token = getattr(rewards, "ndim", 0) == 2
    summary, stats = _lens.token_advantages(
        rewards if per_token else None,
        None if per_token else rewards,
        response_mask,
        old_log_probs if settings.kind == "lens" else None,
        ids if group_size <= 0 else None,
        None,
        max(group_size, 0),
        advantages,
        token_advantages,
        settings,
        want_statistics,
    )
    return advantages, token_advantages, summary, stats


def compute_advantages(
    token_level_rewards: Any = None,
    response_mask: Any = None,
    index: Any = None,
    old_log_probs: Any = None,
    *,
    scores: Any = None,
    group_size: Optional[int] = None,
    settings: Optional[Settings] = None,
    return_group_stats: bool = False,
    **overrides: Any,
) -> AdvantageResult:
    """Advantages for any estimator, in verl's layout.

    token_level_rewards: [N, T] float32/float64, summed per row as verl does
    (or scores=[N], one reward per sample, as TRL and OpenRLHF have);
    response_mask: [N, T], 0 or 1 (bool, uint8, int32, int64, float);
    index: verl's uid per sample (numpy array of strings or any hashables) or
    int64 ids; or group_size=G for contiguous groups of G (TRL's layout);
    old_log_probs: [N, T] log pi_old of the sampled tokens (LENS only).
    settings: a lens.Settings (default lens.presets.lens()); keyword overrides
    (kind="grpo", epsilon=1e-4, ...) apply on top.

    torch tensors (CPU) or numpy arrays; outputs come back in the same
    framework and dtype as the rewards. With int64 tensor ids or group_size
    this call works inside torch.compile(fullgraph=True). Raises ValueError
    naming the argument and index for any bad input; nothing is returned then.
    """
    settings = make_settings(settings, **overrides)
    if (token_level_rewards is None) == (scores is None):
        raise ValueError("lens: token_level_rewards / scores: give exactly one of the two")
    rewards = token_level_rewards if token_level_rewards is not None else scores
    if not _is_array(rewards):
        raise ValueError(f"lens: rewards must be a torch tensor or a numpy array (got {type(rewards).__name__})")
    if response_mask is None:
        raise ValueError("lens: response_mask is required ([N, T], 0 or 1)")
    if (index is None) == (group_size is None):
        raise ValueError("lens: give exactly one of index (a group id per sample) and group_size")
    distinct = None
    ids = None
    if index is not None:
        ids, distinct = index_to_ids(index)
        if _is_torch(rewards) and not _is_torch(ids):
            ids = torch.from_numpy(ids)
    elif group_size <= 0:
        raise ValueError(f"lens: group_size is {group_size}; it must be >= 1")

    if _is_torch(rewards) and not return_group_stats:
        from . import ops

        advantages, token_advantages, summary = ops.token_advantages(
            rewards, response_mask, ids, old_log_probs, group_size or 0, settings
        )
        return AdvantageResult(advantages, token_advantages, summary)

    advantages, token_advantages, summary, stats = run_token_advantages(
        rewards, response_mask, ids, group_size or 0, old_log_probs, settings, return_group_stats
    )
    if stats is not None and distinct is not None:
        stats["group_id"] = np.array(distinct, dtype=object)[stats["group_id"]]
    summary_tensor = _summary_array(summary)
    if _is_torch(rewards):
        summary_tensor = torch.from_numpy(summary_tensor)
    return AdvantageResult(advantages, token_advantages, summary_tensor, stats)


def compute_sequence_advantages(
    scores: Any,
    index: Any = None,
    logprob_sums: Any = None,
    response_lengths: Any = None,
    *,
    group_size: Optional[int] = None,
    settings: Optional[Settings] = None,
    return_group_stats: bool = False,
    **overrides: Any,
) -> AdvantageResult:
    """Per-sample advantages: [N] scores and, for LENS, [N] summed behaviour
    log-probs and [N] int64 response lengths. Returns advantages [N]
    (token_advantages is None)."""
    settings = make_settings(settings, **overrides)
    if not _is_array(scores):
        raise ValueError(f"lens: scores must be a torch tensor or a numpy array (got {type(scores).__name__})")
    if (index is None) == (group_size is None):
        raise ValueError("lens: give exactly one of index (a group id per sample) and group_size")
    ids, distinct = (None, None) if index is None else index_to_ids(index)
    if group_size is not None and group_size <= 0:
        raise ValueError(f"lens: group_size is {group_size}; it must be >= 1")
    scores, ids, logprob_sums, response_lengths = map(_plain, (scores, ids, logprob_sums, response_lengths))
    n = scores.shape[0]
    if _is_torch(scores):
        advantages = torch.empty((n,), dtype=scores.dtype, device=scores.device)
    else:
        advantages = np.empty((n,), dtype=scores.dtype)
    is_lens = settings.kind == "lens"
    summary, stats = _lens.sequence_advantages(
        scores,
        logprob_sums if is_lens else None,
        response_lengths if is_lens else None,
        ids,
        None,
        group_size or 0,
        advantages,
        native(settings),
        return_group_stats,
    )
    if stats is not None and distinct is not None:
        stats["group_id"] = np.array(distinct, dtype=object)[stats["group_id"]]
    summary_tensor = _summary_array(summary)
    if _is_torch(scores):
        summary_tensor = torch.from_numpy(summary_tensor)
    return AdvantageResult(advantages, None, summary_tensor, stats)


__all__ = ["AdvantageResult", "compute_advantages", "compute_sequence_advantages", "index_to_ids"]
