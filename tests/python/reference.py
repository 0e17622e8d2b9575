"""A plain float64 statement of every lens estimator (docs/ALGORITHM.md), in
Python loops, sharing no code with lens: the oracle of the Python tests. Groups
come from a dict of ids; variance is a centred two-pass sum; the LENS penalty
ratio is written as 1 / expm1(log D - log pbar)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np


def groups_of(ids) -> "OrderedDict[object, list[int]]":
    groups: OrderedDict = OrderedDict()
    for i, g in enumerate(ids):
        groups.setdefault(g, []).append(i)
    return groups


def _std(values, unbiased: bool) -> float:
    n = len(values)
    divisor = n - 1 if unbiased else n
    if divisor <= 0:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / divisor)


def advantages(scores, ids, settings, logprob_sums=None, lengths=None) -> np.ndarray:
    """Per-sample advantages in float64. settings: a lens.Settings (read by name)."""
    s = settings
    scores = [float(x) for x in scores]
    out = np.zeros(len(scores))
    groups = groups_of(ids)
    shaped: dict = {}
    calibrated_negative: dict = {}
    for g, members in groups.items():
        values = [scores[i] for i in members]
        negative = all(v <= 0 for v in values)
        calibrate = s.kind == "lens" and (
            (negative and s.scope != "mixed_groups") or (not negative and s.scope != "negative_groups")
        )
        if calibrate:
            size = len(members)
            log_pbar = [min(float(logprob_sums[i]) / float(lengths[i]), 0.0) for i in members]
            log_floor = math.log(s.floor_factor) + max(log_pbar)
            log_d = log_floor
            if not negative:
                if s.difficulty_source == "sequence":
                    log_p = [min(float(logprob_sums[i]), 0.0) for i in members]
                else:
                    log_p = log_pbar
                terms = [math.log(scores[i]) - lp for i, lp in zip(members, log_p) if scores[i] > 0]
                top = max(terms)
                lse = top + math.log(sum(math.exp(t - top) for t in terms))
                log_d = max(math.log(size) - lse, log_floor)
            weight = 1.0 / size if s.divide_penalty_by_group_size else 1.0
            values = [
                r - (1 - r) * weight / math.expm1(log_d - lpb) for r, lpb in zip(values, log_pbar)
            ]
        shaped[g] = values
        calibrated_negative[g] = calibrate and negative

    batch_std = 0.0
    if s.kind == "grpo_batch_std":
        batch_std = _std([v for vals in shaped.values() for v in vals], s.unbiased_std)

    for g, members in groups.items():
        values = shaped[g]
        n = len(values)
        if n == 1:
            if s.singleton == "zero" or calibrated_negative[g]:
                continue
            centre, group_std = 0.0, 1.0
        else:
            if max(values) == min(values):
                continue
            centre, group_std = sum(values) / n, _std(values, s.unbiased_std)
        if s.kind == "rloo":
            scale = 1.0 if n == 1 else n / (n - 1)
        elif s.kind == "grpo_batch_std":
            scale = 1.0 / (batch_std + s.epsilon) if s.normalize_by_std else 1.0
        elif calibrated_negative[g]:
            scale = s.alpha
        else:
            scale = 1.0 / (group_std + s.epsilon) if s.normalize_by_std else 1.0
        for i, v in zip(members, values):
            out[i] = (v - centre) * scale
    return out
