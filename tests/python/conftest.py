"""Shared fixtures of the Python tests: random ragged, shuffled batches in
verl's layout (token-level rewards on the last response token, uid strings)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))


@dataclass
class Batch:
    token_level_rewards: torch.Tensor  # [N, T] float32, the score on the last unmasked token
    response_mask: torch.Tensor  # [N, T] int64
    old_log_probs: torch.Tensor  # [N, T] float32, <= 0 (garbage where masked)
    uid: np.ndarray  # [N] object array of uid strings, shuffled
    scores: torch.Tensor  # [N] float32, the row sums

    @property
    def num_samples(self) -> int:
        return self.response_mask.shape[0]


def make_batch(
    rng: np.random.Generator,
    num_groups: int = 24,
    max_group: int = 64,
    max_tokens: int = 40,
    rewards: str = "binary",
    shuffle: bool = True,
) -> Batch:
    sizes = rng.integers(1, max_group + 1, size=num_groups)
    uids = [f"uid-{rng.integers(1 << 40):x}-{g}" for g in range(num_groups)]
    uid = np.array([uids[g] for g in range(num_groups) for _ in range(sizes[g])], dtype=object)
    n = len(uid)
    t = int(rng.integers(1, max_tokens + 1))
    if rewards == "binary":
        # a third of the groups negative, as early in training
        p_correct = rng.choice([0.0, 0.3, 0.7], size=num_groups)
        score = np.concatenate([(rng.random(s) < p_correct[g]).astype(np.float32) for g, s in enumerate(sizes)])
    elif rewards == "fractional":
        score = np.round(rng.random(n) * 4) / 4
    else:  # shaped: any real values, as RM scores (not for LENS)
        score = rng.normal(0.0, 3.0, size=n)
    lengths = rng.integers(1, t + 1, size=n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int64)
    logp = -rng.exponential(0.7, size=(n, t)).astype(np.float32)
    logp[mask == 0] = rng.normal(size=int((mask == 0).sum()))  # padding: anything, even positive
    token_rewards = np.zeros((n, t), dtype=np.float32)
    token_rewards[np.arange(n), lengths - 1] = score
    order = rng.permutation(n) if shuffle else np.arange(n)
    return Batch(
        torch.from_numpy(token_rewards[order].copy()),
        torch.from_numpy(mask[order].copy()),
        torch.from_numpy(logp[order].copy()),
        uid[order],
        torch.from_numpy(token_rewards[order].sum(axis=1)),
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261202)


def logprob_sums(batch: Batch) -> np.ndarray:
    """Per-sample masked sums of the log-probs, in float64."""
    lp = batch.old_log_probs.double() * batch.response_mask
    return lp.sum(dim=1).numpy()


def lengths(batch: Batch) -> np.ndarray:
    return batch.response_mask.sum(dim=1).numpy()
