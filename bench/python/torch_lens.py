"""LENS written as eager torch ops, vectorised over groups (scatter reductions):
the baseline a trainer would write without lens. Same math as docs/ALGORITHM.md,
in float32 like the trainers' code."""

from __future__ import annotations

import math

import torch


def torch_lens(token_level_rewards, response_mask, group_index, old_log_probs, alpha=0.25, floor_factor=2.0,
               epsilon=1e-6):
    mask = response_mask.to(old_log_probs.dtype)
    scores = token_level_rewards.sum(dim=-1)
    sums = (old_log_probs * mask).sum(dim=-1)
    lengths = mask.sum(dim=-1)
    log_pbar = (sums / lengths).clamp(max=0.0)
    g = group_index
    num_groups = int(g.max()) + 1
    counts = torch.bincount(g, minlength=num_groups).to(scores.dtype)
    max_log_pbar = torch.full((num_groups,), -math.inf).scatter_reduce(0, g, log_pbar, "amax")
    correct = torch.zeros(num_groups).index_add_(0, g, (scores > 0).to(scores.dtype))
    negative = correct == 0
    # D_imp from raw sequence probabilities, in log space
    term = torch.where(scores > 0, torch.log(scores.clamp(min=1e-30)) - sums.clamp(max=0.0), torch.tensor(-math.inf))
    term_max = torch.full((num_groups,), -math.inf).scatter_reduce(0, g, term, "amax")
    lse = term_max + torch.log(torch.zeros(num_groups).index_add_(0, g, torch.exp(term - term_max[g])))
    log_floor = math.log(floor_factor) + max_log_pbar
    log_d = torch.where(negative, log_floor, torch.maximum(torch.log(counts) - lse, log_floor))
    u = torch.exp(log_pbar - log_d[g])
    shaped = scores - (1 - scores) * (u / (1 - u)) / counts[g]
    mean = torch.zeros(num_groups).index_add_(0, g, shaped) / counts
    centred = shaped - mean[g]
    var = torch.zeros(num_groups).index_add_(0, g, centred * centred) / (counts - 1).clamp(min=1)
    std = var.sqrt()
    adv = torch.where(negative[g], alpha * centred, centred / (std[g] + epsilon))
    adv = torch.where(counts[g] > 1, adv, torch.zeros_like(adv))
    return adv.unsqueeze(-1) * response_mask
