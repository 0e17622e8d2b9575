"""Bad input from Python: a ValueError whose message names the argument (and
the index), the same message the C++ core throws, and caller outputs left
untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lens
from lens import _lens
from lens.settings import native
from conftest import make_batch


@pytest.fixture
def batch(rng):
    return make_batch(rng, num_groups=6, max_group=8, max_tokens=10)


def call(batch, **changes):
    args = dict(token_level_rewards=batch.token_level_rewards, response_mask=batch.response_mask, index=batch.uid,
                old_log_probs=batch.old_log_probs)
    args.update(changes)
    return lens.compute_advantages(**args)


CASES = [
    ("wrong rewards dtype", dict(token_level_rewards=lambda b: b.token_level_rewards.to(torch.int32)),
     "lens: token_level_rewards has dtype int32; lens accepts float32 or float64"),
    ("wrong mask dtype", dict(response_mask=lambda b: b.response_mask.to(torch.int16)),
     "lens: response_mask has dtype an unsupported dtype"),
    ("rewards one column short", dict(token_level_rewards=lambda b: b.token_level_rewards[:, :-1].contiguous()),
     "lens: token_level_rewards has shape"),
    ("index too short", dict(index=lambda b: b.uid[:-1]), "must be {n} (N, one id per sample)"),
    ("mask 1-D", dict(response_mask=lambda b: b.response_mask[:, 0].contiguous()),
     "lens: response_mask has shape"),
    ("non-contiguous log-probs", dict(old_log_probs=lambda b: b.old_log_probs.t().contiguous().t()),
     "is not contiguous"),
    ("log-probs missing for LENS", dict(old_log_probs=lambda b: None), "lens: old_log_probs is required by LENS"),
    ("log-probs of integers", dict(old_log_probs=lambda b: b.old_log_probs.to(torch.int32)),
     "lens: old_log_probs has dtype int32; lens accepts float32, float64, float16 or bfloat16"),
    ("index of int32", dict(index=lambda b: torch.zeros(b.num_samples, dtype=torch.int32)),
     "a tensor index must hold int64 ids"),
    ("unhashable index", dict(index=lambda b: [[0]] * b.num_samples), "lens: index[0] is not hashable"),
    ("settings out of range", dict(floor_factor=lambda b: 1.0),
     "lens: settings.floor_factor is a setting out of its range (value 1.000000, must be finite and > 1"),
    ("unknown enum value", dict(kind=lambda b: "ppo"), "lens: settings.kind is 'ppo'; must be one of"),
]


@pytest.mark.parametrize("name,changes,message", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_is_a_value_error(batch, name, changes, message):
    with pytest.raises(ValueError) as error:
        call(batch, **{k: f(batch) for k, f in changes.items()})
    assert message.format(n=batch.num_samples) in str(error.value)


def first_unmasked(batch):
    row = int(torch.nonzero(batch.response_mask.sum(dim=1) > 1)[0])
    return row, 0


def test_nan_log_prob_names_its_index(batch):
    row, col = first_unmasked(batch)
    bad = batch.old_log_probs.clone()
    bad[row, col] = float("nan")
    t = batch.response_mask.shape[1]
    with pytest.raises(ValueError, match=rf"lens: logprobs\[{row * t + col}\] is not finite \(NaN or infinite\) "
                                         rf"\(row {row}, column {col}\)"):
        call(batch, old_log_probs=bad)


def test_nan_where_masked_is_never_read(batch):
    bad = batch.old_log_probs.clone()
    bad[batch.response_mask == 0] = float("nan")
    clean = call(batch)
    assert torch.equal(call(batch, old_log_probs=bad).advantages, clean.advantages)


def test_reward_outside_unit_interval_for_lens(batch):
    bad = batch.token_level_rewards.clone()
    bad[3, 0] += 2.0
    with pytest.raises(ValueError, match=r"lens: token_rewards \(row sum\)\[3\] is a reward outside \[0, 1\]"):
        call(batch, token_level_rewards=bad)


def test_rejected_call_leaves_caller_outputs_untouched(batch):
    """The low-level call writes into caller arrays: on rejection, not one element changes."""
    n, t = batch.response_mask.shape
    advantages = torch.full((n,), 7.0)
    token_advantages = torch.full((n, t), 7.0)
    bad = batch.old_log_probs.clone()
    row = n - 1
    bad[row, 0] = 0.5  # a log-prob above 0 in the last row: found after every other row was read
    ids, _ = lens.advantages.index_to_ids(batch.uid)
    with pytest.raises(ValueError, match="is a log-probability above 0"):
        _lens.token_advantages(batch.token_level_rewards, None, batch.response_mask, bad, torch.from_numpy(ids),
                               None, 0, advantages, token_advantages, native(lens.presets.lens()), False)
    assert torch.all(advantages == 7.0) and torch.all(token_advantages == 7.0)


def test_value_error_is_the_cpp_message():
    """The message is lens::error_message's, unchanged on its way to Python."""
    with pytest.raises(ValueError) as error:
        lens.compute_sequence_advantages(np.array([0.0, 1.0, np.inf]), group_size=3, kind="grpo")
    assert str(error.value) == "lens: scores[2] is not finite (NaN or infinite)"
