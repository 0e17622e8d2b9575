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
SUMMARY_FIELDS: tuple[str, ...] = tuple(_lens.summary_fields)


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


def _plain(x: Any) -> Any:
    """A torch tensor as the C++ side reads it: no autograd history."""
    return x.detach() if _is_torch(x) and x.requires_grad else x


def _empty(like: Any, shape: tuple) -> Any:
    """An output in `like`'s framework, dtype and device (the caller's allocator)."""
    if _is_torch(like):
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return np.empty(shape, dtype=like.dtype)


def _layout(index: Any, group_size: Optional[int], like: Any) -> tuple[Any, Optional[list]]:
    """(ids or None, the distinct uid objects or None) for index= or group_size=."""
    if (index is None) == (group_size is None):
        raise ValueError("lens: give exactly one of index (a group id per sample) and group_size")
    if index is None:
        if group_size <= 0:
            raise ValueError(f"lens: group_size is {group_size}; it must be >= 1")
        return None, None
    ids, distinct = index_to_ids(index)
    if _is_torch(like) and not _is_torch(ids):
        ids = torch.from_numpy(ids)
    return ids, distinct


def _result(advantages: Any, token_advantages: Any, summary: np.ndarray, stats: Optional[dict],
            distinct: Optional[list], like: Any) -> "AdvantageResult":
    """What the C++ call returned, with group ids named as the caller named them."""
    if stats is not None and distinct is not None:
        stats["group_id"] = np.array(distinct, dtype=object)[stats["group_id"]]
    summary_tensor = torch.from_numpy(summary) if _is_torch(like) else summary
    return AdvantageResult(advantages, token_advantages, summary_tensor, stats)


def run_token_advantages(
    rewards: Any,
    response_mask: Any,
    ids: Any,
    group_size: int,
    old_log_probs: Any,
    settings: Settings,
    want_statistics: bool,
    out: Optional[tuple] = None,
) -> tuple[Any, Any, dict, Optional[dict]]:
    """Runs the C++ core into `out` = (advantages [N], token_advantages [N, T])
    when given, else into outputs allocated in the inputs' framework.
    settings: a Settings, its flat list of scalars, or the C++ struct."""
    settings = native(settings)
    rewards, response_mask, ids, old_log_probs = map(_plain, (rewards, response_mask, ids, old_log_probs))
    advantages = token_advantages = None  # a mask that is not [N, T] is rejected by the core, naming it
    if out is not None:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError("lens: out must be a pair (advantages [N], token_advantages [N, T])")
        advantages, token_advantages = out  # shapes and dtypes are checked by the core, naming them
    elif getattr(response_mask, "ndim", None) == 2:
        n, t = response_mask.shape
        advantages, token_advantages = _empty(rewards, (n,)), _empty(rewards, (n, t))
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
    out: Optional[tuple] = None,
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

    out=(advantages, token_advantages): write into these arrays (the rewards'
    dtype, [N] and [N, T]) instead of fresh ones, e.g. a trainer's buffers
    reused every step: a fresh [N, T] output costs a page fault per 4 KiB.
    When the call raises, they are untouched. Eager mode only (not inside
    torch.compile, where outputs are the op's).
    """
    settings = make_settings(settings, **overrides)
    if (token_level_rewards is None) == (scores is None):
        raise ValueError("lens: token_level_rewards / scores: give exactly one of the two")
    rewards = token_level_rewards if token_level_rewards is not None else scores
    if not _is_array(rewards):
        raise ValueError(f"lens: rewards must be a torch tensor or a numpy array (got {type(rewards).__name__})")
    if response_mask is None:
        raise ValueError("lens: response_mask is required ([N, T], 0 or 1)")
    ids, distinct = _layout(index, group_size, rewards)

    if _is_torch(rewards) and not return_group_stats and out is None:
        from . import ops

        advantages, token_advantages, summary = ops.token_advantages(
            rewards, response_mask, ids, old_log_probs, group_size or 0, settings
        )
        return AdvantageResult(advantages, token_advantages, summary)

    advantages, token_advantages, summary, stats = run_token_advantages(
        rewards, response_mask, ids, group_size or 0, old_log_probs, settings, return_group_stats, out
    )
    return _result(advantages, token_advantages, summary, stats, distinct, rewards)


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
    ids, distinct = _layout(index, group_size, scores)
    scores, ids, logprob_sums, response_lengths = map(_plain, (scores, ids, logprob_sums, response_lengths))
    advantages = _empty(scores, (scores.shape[0],))
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
    return _result(advantages, None, summary, stats, distinct, scores)


def compute_reinforce_pp_baseline_advantages(
    token_level_rewards: Any,
    response_mask: Any,
    index: Any = None,
    *,
    group_size: Optional[int] = None,
    return_group_stats: bool = False,
) -> AdvantageResult:
    """REINFORCE++-baseline (verl's compute_reinforce_plus_plus_baseline_outcome_advantage):
    each score minus its group's mean (a group of one keeps its score), then
    whitened over every unmasked token of the batch. [N, T] inputs as
    compute_advantages; returns advantages [N] and token_advantages [N, T]."""
    ids, distinct = _layout(index, group_size, token_level_rewards)
    token_level_rewards, response_mask, ids = map(_plain, (token_level_rewards, response_mask, ids))
    shape = tuple(getattr(response_mask, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"lens: response_mask has shape {shape} but must have 2 dimensions")
    advantages, token_advantages = _empty(token_level_rewards, (shape[0],)), _empty(token_level_rewards, shape)
    summary, stats = _lens.reinforce_pp_baseline(token_level_rewards, response_mask, ids, None, group_size or 0,
                                                 advantages, token_advantages, return_group_stats)
    return _result(advantages, token_advantages, summary, stats, distinct, token_level_rewards)


def compute_reinforce_pp_advantages(token_level_rewards: Any, response_mask: Any, gamma: float = 1.0):
    """REINFORCE++ (verl's compute_reinforce_plus_plus_outcome_advantage):
    per-token discounted returns over the response tokens, whitened over every
    unmasked token of the batch. Returns (advantages [N, T], returns [N, T])."""
    token_level_rewards, response_mask = map(_plain, (token_level_rewards, response_mask))
    shape = tuple(getattr(response_mask, "shape", ()))
    if len(shape) != 2:
        raise ValueError(f"lens: response_mask has shape {shape} but must have 2 dimensions")
    advantages, returns = _empty(token_level_rewards, shape), _empty(token_level_rewards, shape)
    _lens.reinforce_pp(token_level_rewards, response_mask, float(gamma), advantages, returns)
    return advantages, returns


__all__ = [
    "compute_reinforce_pp_advantages",
    "compute_reinforce_pp_baseline_advantages","AdvantageResult", "compute_advantages", "compute_sequence_advantages", "index_to_ids"]
