"""lens.compute_advantages through the Python package: every estimator and
layout against the float64 reference (tests/python/reference.py), numpy and
torch, uid strings and int64 ids, presets equal to the C++ defaults, the
token broadcast, group statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lens
import reference
from conftest import lengths, logprob_sums, make_batch

ESTIMATOR_SETTINGS = {
    "lens": lens.presets.lens(),
    "lens_geometric": lens.make_settings(lens.presets.lens(), difficulty_source="geometric_mean"),
    "lens_negative_only": lens.make_settings(lens.presets.lens(), scope="negative_groups"),
    "lens_mixed_only": lens.make_settings(lens.presets.lens(), scope="mixed_groups"),
    "verl_grpo": lens.presets.verl_grpo(),
    "trl_grpo": lens.presets.trl_grpo(),
    "openrlhf_grpo": lens.presets.openrlhf_grpo(),
    "dr_grpo": lens.presets.dr_grpo(),
    "trl_grpo_batch_std": lens.presets.trl_grpo_batch_std(),
    "rloo": lens.presets.rloo(),
}


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return float(np.abs(actual - expected).max(initial=0.0)) / scale


# LENS takes rewards in [0, 1]: shaped (real-valued) rewards go to the other estimators only.
ESTIMATOR_CASES = [(name, rewards) for name in sorted(ESTIMATOR_SETTINGS) for rewards in ("binary", "fractional", "shaped")
                   if not (ESTIMATOR_SETTINGS[name].kind == "lens" and rewards == "shaped")]


@pytest.mark.parametrize("name,rewards", ESTIMATOR_CASES)
def test_every_estimator_matches_the_reference(rng, name, rewards):
    settings = ESTIMATOR_SETTINGS[name]
    for _ in range(3):
        batch = make_batch(rng, rewards=rewards)
        out = lens.compute_advantages(
            batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs, settings=settings
        )
        expected = reference.advantages(
            batch.scores.double().numpy(), batch.uid, settings, logprob_sums(batch), lengths(batch)
        )
        assert out.advantages.dtype == torch.float32
        assert relative_error(out.advantages.double().numpy(), expected) < 2e-6
        # token advantages are A_i * mask, exactly, with verl's sign of zero
        broadcast = out.advantages.unsqueeze(-1) * batch.response_mask
        assert torch.equal(out.token_advantages, broadcast)


def test_lens_gives_negative_groups_gradient(rng):
    batch = make_batch(rng)
    out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs,
                                  return_group_stats=True)
    stats = out.group_stats
    negative = stats["negative"] & (stats["size"] > 1)
    assert negative.any()
    grpo = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, kind="grpo")
    for gid in stats["group_id"][negative]:
        members = batch.uid == gid
        assert torch.all(grpo.advantages[torch.from_numpy(members)] == 0)
        assert torch.any(out.advantages[torch.from_numpy(members)] != 0)
    assert out.summary["num_negative_groups"] == int(stats["negative"].sum())
    assert 0 < out.summary["negative_group_fraction"] < 1


def test_uid_strings_int_ids_and_group_size_agree(rng):
    batch = make_batch(rng, shuffle=False)
    numbers = {u: k for k, u in enumerate(dict.fromkeys(batch.uid))}
    ids = torch.tensor([numbers[u] * 7919 + 3 for u in batch.uid], dtype=torch.int64)
    by_uid = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs)
    by_ids = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, ids, batch.old_log_probs)
    assert torch.equal(by_uid.advantages, by_ids.advantages)
    # contiguous equal-size groups: group_size= is TRL's layout
    fixed = make_batch(rng, num_groups=10, max_group=1, shuffle=False)
    fixed_uid = np.repeat(np.arange(5), 2)
    a = lens.compute_advantages(fixed.token_level_rewards, fixed.response_mask, fixed_uid.astype(np.int64),
                                fixed.old_log_probs)
    b = lens.compute_advantages(fixed.token_level_rewards, fixed.response_mask, None, fixed.old_log_probs,
                                group_size=2)
    assert torch.equal(a.advantages, b.advantages)


def test_numpy_in_numpy_out(rng):
    batch = make_batch(rng)
    out_np = lens.compute_advantages(batch.token_level_rewards.numpy(), batch.response_mask.numpy(), batch.uid,
                                     batch.old_log_probs.numpy())
    out_t = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs)
    assert isinstance(out_np.advantages, np.ndarray) and out_np.token_advantages.shape == batch.response_mask.shape
    np.testing.assert_array_equal(out_np.advantages, out_t.advantages.numpy())
    assert out_np.summary == out_t.summary


def test_float64_inputs_give_float64_outputs(rng):
    batch = make_batch(rng)
    out = lens.compute_advantages(batch.token_level_rewards.double(), batch.response_mask, batch.uid,
                                  batch.old_log_probs.double())
    expected = reference.advantages(batch.scores.double().numpy(), batch.uid, lens.presets.lens(),
                                    logprob_sums(batch), lengths(batch))
    assert out.advantages.dtype == torch.float64
    assert relative_error(out.advantages.numpy(), expected) < 1e-6


@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.uint8, torch.int32, torch.int64, torch.float32])
def test_every_mask_dtype(rng, mask_dtype):
    batch = make_batch(rng)
    reference_out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid,
                                            batch.old_log_probs)
    out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask.to(mask_dtype), batch.uid,
                                  batch.old_log_probs)
    assert torch.equal(out.token_advantages, reference_out.token_advantages)


def test_scores_and_sequence_inputs(rng):
    batch = make_batch(rng)
    token = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs)
    from_scores = lens.compute_advantages(None, batch.response_mask, batch.uid, batch.old_log_probs,
                                          scores=batch.scores)
    assert torch.equal(token.advantages, from_scores.advantages)
    sequence = lens.compute_sequence_advantages(batch.scores.double(), batch.uid,
                                                torch.from_numpy(logprob_sums(batch)),
                                                torch.from_numpy(lengths(batch)))
    assert sequence.token_advantages is None
    assert relative_error(sequence.advantages.numpy(), token.advantages.double().numpy()) < 1e-6


def test_group_statistics_name_the_callers_uids(rng):
    batch = make_batch(rng)
    out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs,
                                  kind="grpo", return_group_stats=True)
    stats = out.group_stats
    groups = reference.groups_of(batch.uid)
    assert list(stats["group_id"]) == list(groups)
    for k, (gid, members) in enumerate(groups.items()):
        values = batch.scores.double().numpy()[members]
        assert stats["size"][k] == len(members)
        assert stats["num_correct"][k] == int((values > 0).sum())
        assert stats["mean"][k] == pytest.approx(values.mean(), rel=1e-12, abs=1e-12)
        if len(members) > 1:
            assert stats["std"][k] == pytest.approx(values.std(ddof=1), rel=1e-9, abs=1e-12)


def test_presets_are_the_cpp_presets():
    assert lens.presets.verl_grpo().kind == "grpo" and lens.presets.verl_grpo().epsilon == 1e-6
    assert lens.presets.trl_grpo().epsilon == 1e-4 and lens.presets.trl_grpo().singleton == "zero"
    assert lens.presets.openrlhf_grpo().epsilon == 1e-9
    assert lens.presets.dr_grpo().normalize_by_std is False
    assert lens.presets.rloo().kind == "rloo"
    assert lens.Settings() == lens.presets.lens()
    assert lens.Settings().alpha == 0.25 and lens.Settings().floor_factor == 2.0
    with pytest.raises(ValueError, match="settings.alpah is not a setting"):
        lens.make_settings(alpah=1.0)


def test_empty_batch():
    out = lens.compute_advantages(torch.zeros(0, 5), torch.zeros(0, 5, dtype=torch.int64),
                                  torch.zeros(0, dtype=torch.int64), torch.zeros(0, 5))
    assert out.advantages.shape == (0,) and out.token_advantages.shape == (0, 5)
    assert out.summary["num_groups"] == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_and_bfloat16_log_probs_are_read_in_place(rng, dtype):
    """A bf16 / fp16 model's log-probs: the same advantages as their exact float32 values."""
    batch = make_batch(rng)
    low = batch.old_log_probs.to(dtype)
    out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, low)
    same_values = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, low.float())
    assert out.advantages.dtype == torch.float32
    assert torch.equal(out.advantages, same_values.advantages)
    assert torch.any(out.advantages != 0)


def test_half_log_prob_above_zero_is_named(rng):
    batch = make_batch(rng, num_groups=4, max_group=4)
    low = batch.old_log_probs.to(torch.bfloat16)
    low[0, 0] = 0.5
    with pytest.raises(ValueError, match=r"lens: logprobs\[0\] is a log-probability above 0 .*value 0.5"):
        lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, low)


def test_out_writes_into_the_callers_buffers(rng):
    batch = make_batch(rng)
    n, t = batch.response_mask.shape
    fresh = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs)
    advantages, token_advantages = torch.full((n,), 7.0), torch.full((n, t), 7.0)
    out = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs,
                                  out=(advantages, token_advantages))
    assert out.advantages is advantages and out.token_advantages is token_advantages
    assert torch.equal(advantages, fresh.advantages) and torch.equal(token_advantages, fresh.token_advantages)
    with pytest.raises(ValueError, match=r"lens: token_advantages has shape \(.*\) but its dimension 1 must be"):
        lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs,
                                out=(torch.empty(n), torch.empty(n, t + 1)))
    with pytest.raises(ValueError, match="lens: advantages has dtype float64 but the rewards are float32"):
        lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid, batch.old_log_probs,
                                out=(torch.empty(n, dtype=torch.float64), torch.empty(n, t)))
