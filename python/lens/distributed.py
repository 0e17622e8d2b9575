"""lens.distributed: advantages when a group's samples live on several ranks.

    import lens.distributed
    out = lens.distributed.compute_advantages(token_level_rewards, response_mask, index, old_log_probs)

Every rank of the process group (default: the world) calls it with its own
samples and their group ids (verl's uid strings, or int64 ids; or group_size=G
when each rank holds whole groups of G), and gets the
advantages of its samples that lens.compute_advantages would give on the
concatenated batch (rank 0's samples, then rank 1's, ...). The ranks exchange
per-group partial statistics with torch.distributed.all_gather, never samples:
one all-gather for GRPO, Dr. GRPO, RLOO and batch std, two for LENS (its
difficulty D, then the moments of the calibrated rewards), each of fixed-size
buffers of O(groups on the busiest rank) words. The first exchange's buffer
size is remembered per process group, so a steady trainer needs no extra
collective; a rank that needs more makes every rank gather once more.

Errors: a rank's bad input, settings that differ between ranks, a rank passing
int64 ids while another passes uid strings, or two uids whose 64-bit hashes
collide make EVERY rank raise the same ValueError; no rank hangs. A rank with
no samples is valid. The design: docs/DISTRIBUTED.md; the C++ side:
lens/cpu/distributed.hpp (lens::cpu::distributed_batch).

Gloo (CPU tensors) and NCCL (the buffers travel on the current CUDA device).
The computation runs on the host: CUDA inputs are copied to the host and the
advantages copied back to the rewards' device.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist

from . import _lens
from .advantages import AdvantageResult, _is_array, _is_torch, _plain
from .settings import Settings, make_settings, native

#: The first exchange's buffer in 8-byte words per rank before any call has
#: settled it: the header and 127 groups of GRPO's 8-word records.
INITIAL_CAPACITY_WORDS = 1024

_capacity: dict = {}


def _key(group: Any) -> tuple:
    return (dist.get_backend(group), tuple(dist.get_process_group_ranks(group or dist.group.WORLD)))


def _device(group: Any) -> torch.device:
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _round_up(words: int) -> int:
    """words rounded up to m * 2^k with 8 <= m < 16: at most 1/8 slack, and a
    batch that grows a little does not make every call gather twice."""
    step = 1 << max(int(words).bit_length() - 4, 0)
    return -(-int(words) // step) * step


def group_ids(index: Any) -> tuple[Any, Optional[np.ndarray]]:
    """A rank's index as (int64 ids, checks or None): int64 tensors and arrays
    as they are; anything else (verl's uid strings, bytes, Python ints) as a
    64-bit hash of its bytes, the same on every rank, with a second hash
    (the check) that detects a collision of the first."""
    if _is_torch(index):
        if index.dtype != torch.int64:
            raise ValueError(f"lens: index has dtype {index.dtype}; a tensor index must hold int64 ids")
        return index.detach().cpu().contiguous(), None
    if isinstance(index, np.ndarray) and index.dtype == np.int64:
        return np.ascontiguousarray(index), None
    if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
        raise ValueError(f"lens: index has dtype {index.dtype}; pass int64 ids (index.astype(np.int64))")
    return _lens.hash_keys(index)


def _host(x: Any) -> Any:
    x = _plain(x)
    return x.cpu() if _is_torch(x) and x.device.type != "cpu" else x


def _local_batch(rank, token_level_rewards, response_mask, index, old_log_probs, scores, group_size, settings,
                 return_group_stats, overrides):
    settings = make_settings(settings, **overrides)
    if return_group_stats:
        raise ValueError("lens.distributed: return_group_stats is not available across ranks")
    if (index is None) == (group_size is None):
        raise ValueError("lens: give exactly one of index (a group id per sample) and group_size")
    if (token_level_rewards is None) == (scores is None):
        raise ValueError("lens: token_level_rewards / scores: give exactly one of the two")
    rewards = token_level_rewards if token_level_rewards is not None else scores
    if not _is_array(rewards):
        raise ValueError(f"lens: rewards must be a torch tensor or a numpy array (got {type(rewards).__name__})")
    if response_mask is None:
        raise ValueError("lens: response_mask is required ([N, T], 0 or 1)")
    rewards, response_mask, old_log_probs = map(_host, (rewards, response_mask, old_log_probs))
    local_groups = group_size is not None
    if local_groups:
        n = response_mask.shape[0] if getattr(response_mask, "ndim", 0) == 2 else 0
        if group_size <= 0 or n % group_size:
            raise ValueError(f"lens.distributed: group_size is {group_size} but this rank has {n} samples; across "
                             "ranks group_size needs every rank's samples to be whole groups (a group split over "
                             "ranks needs index=, e.g. torch.arange(start, start + n) // group_size)")
        ids, checks = (torch.arange(n, dtype=torch.int64) // group_size) + (rank << 40), None
    else:
        ids, checks = group_ids(index)
    is_lens = settings.kind == "lens"
    per_token = getattr(rewards, "ndim", 0) == 2
    batch = _lens.DistributedBatch.tokens(
        rewards if per_token else None,
        None if per_token else rewards,
        response_mask,
        old_log_probs if is_lens else None,
        ids,
        checks,
        native(settings),
        local_groups,
    )
    return batch, rewards, response_mask


def _all_gather(batch: Any, exchange: int, stride: int, world: int, group: Any, device: torch.device) -> torch.Tensor:
    mine = torch.empty((stride,), dtype=torch.int64)
    batch.write(exchange, mine)
    out = torch.empty((world, stride), dtype=torch.int64, device=device)
    dist.all_gather(list(out.unbind(0)), mine.to(device), group=group)
    return out.cpu().reshape(-1)


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
    group: Any = None,
    **overrides: Any,
) -> AdvantageResult:
    """lens.compute_advantages over the ranks of `group` (a torch.distributed
    process group; default the world). Arguments as lens.compute_advantages:
    index= (verl's uid strings or int64 ids) for groups spread over ranks in
    any way; group_size=G when every rank's samples are whole groups of G
    (TRL's layout; the ranks then share batch-wide statistics, the batch std
    of grpo_batch_std, and the summary). return_group_stats is rejected (on
    every rank). Returns this rank's
    advantages [N] and token advantages [N, T]; in the summary, the group
    counts are the whole batch's and num_samples, num_nonzero_advantages and
    gradient_sample_fraction this rank's."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    device = _device(group)
    rewards = mask = None
    try:
        batch, rewards, mask = _local_batch(rank, token_level_rewards, response_mask, index, old_log_probs, scores,
                                            group_size, settings, return_group_stats, overrides)
    except Exception as error:  # noqa: BLE001 - every rank must reach the exchange, whatever failed here
        batch = _lens.DistributedBatch.failed(str(error) or type(error).__name__)

    key = _key(group)
    capacity = _capacity.get(key, INITIAL_CAPACITY_WORDS)
    exchange = 0
    while exchange < batch.num_exchanges:
        stride = batch.exchange_words(exchange, capacity)
        while True:
            gathered = _all_gather(batch, exchange, stride, world, group, device)
            needed = batch.merge(exchange, gathered, world, rank)  # raises the same ValueError on every rank
            if not needed:
                break
            stride = _round_up(needed)
            if exchange == 0:
                capacity = _capacity[key] = stride
        exchange += 1

    n, t = mask.shape
    if _is_torch(rewards):
        advantages = torch.empty((n,), dtype=rewards.dtype)
        token_advantages = torch.empty((n, t), dtype=rewards.dtype)
    else:
        advantages = np.empty((n,), dtype=rewards.dtype)
        token_advantages = np.empty((n, t), dtype=rewards.dtype)
    summary = batch.finish_tokens(mask, advantages, token_advantages)
    original = token_level_rewards if token_level_rewards is not None else scores
    summary_tensor = summary
    if _is_torch(original):
        summary_tensor = torch.from_numpy(summary)
        if original.device.type != "cpu":
            advantages = advantages.to(original.device)
            token_advantages = token_advantages.to(original.device)
    return AdvantageResult(advantages, token_advantages, summary_tensor)


def exchanged_words(group: Any = None) -> int:
    """The first exchange's buffer, in 8-byte words per rank, that this
    process group has settled on (what each rank sends; it receives
    world_size times as much)."""
    return _capacity.get(_key(group), INITIAL_CAPACITY_WORDS)


__all__ = ["INITIAL_CAPACITY_WORDS", "compute_advantages", "exchanged_words", "group_ids"]
