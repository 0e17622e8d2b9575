"""lens against verl's own code (verl installed from PyPI): its advantage
estimators on random ragged, shuffled batches, its registry and its
compute_advantage on a DataProto.

Parity criterion: lens (float32 in, float32 out) is at least as close to the
float64 result as verl's own float32 code, up to one float32 rounding of the
result (lens computes in double and rounds once, so where verl's float32 code
is exact lens may still differ by half an ulp). The float64 result is verl's
function on float64 inputs, except for the vectorised GRPO, which casts to
float32 inside (verl.utils.groupwise.group_mean_std): there it is verl's loop
GRPO in float64, the same estimator. That vectorised GRPO also takes a one-pass
variance (sum2 - sum^2 / n) in float32, and test_one_pass_variance_class shows
the error it makes where lens's is the rounding of the output alone."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

warnings.filterwarnings("ignore")
core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")

import lens  # noqa: E402
import lens.verl  # noqa: E402
from conftest import make_batch  # noqa: E402

F32_ULP = 2.0**-24


def max_error(actual: torch.Tensor, truth: torch.Tensor) -> float:
    return float((actual.double() - truth.double()).abs().max()) if actual.numel() else 0.0


def assert_at_least_as_close(lens_out, verl32, verl64, what):
    lens_error = max_error(lens_out, verl64)
    verl_error = max_error(verl32, verl64)
    rounding = F32_ULP * float(verl64.abs().max()) if verl64.numel() else 0.0
    assert lens_error <= verl_error + rounding, f"{what}: lens {lens_error:.3g} vs verl {verl_error:.3g}"
    return lens_error, verl_error


def verl_call(fn, batch, dtype, **kwargs):
    return fn(token_level_rewards=batch.token_level_rewards.to(dtype), response_mask=batch.response_mask,
              index=batch.uid, **kwargs)[0]


CASES = [
    # (verl function, its keyword arguments, lens settings, float64 truth function or None = same)
    ("grpo", core_algos.compute_grpo_outcome_advantage, {}, lens.presets.verl_grpo(), None),
    ("grpo_no_std", core_algos.compute_grpo_outcome_advantage, {"norm_adv_by_std_in_grpo": False},
     lens.presets.dr_grpo(), None),
    ("grpo_vectorized", core_algos.compute_grpo_vectorized_outcome_advantage, {}, lens.presets.verl_grpo(),
     core_algos.compute_grpo_outcome_advantage),
    ("rloo", core_algos.compute_rloo_outcome_advantage, {}, lens.presets.rloo(), None),
    ("rloo_vectorized", core_algos.compute_rloo_vectorized_outcome_advantage, {},
     lens.make_settings(lens.presets.rloo(), singleton="zero"), None),
]


@pytest.mark.parametrize("name,fn,kwargs,settings,truth_fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("rewards", ["binary", "fractional", "shaped"])
def test_estimator_parity(rng, name, fn, kwargs, settings, truth_fn, rewards):
    for _ in range(4):
        batch = make_batch(rng, rewards=rewards)
        ours = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid,
                                       settings=settings).token_advantages
        theirs32 = verl_call(fn, batch, torch.float32, **kwargs)
        theirs64 = verl_call(truth_fn or fn, batch, torch.float64, **kwargs)
        assert ours.shape == theirs32.shape and ours.dtype == theirs32.dtype
        assert_at_least_as_close(ours, theirs32, theirs64, name)


def test_one_pass_variance_class(rng):
    """Near-constant groups: verl's vectorised GRPO (one-pass float32 variance)
    against verl's loop GRPO in float64; lens within one rounding."""
    scores = torch.tensor([1.0, 1.00001, 1000.0, 1000.001, 1000.002, 5.0, 5.0, 5.0], dtype=torch.float32)
    uid = np.array(["a", "a", "b", "b", "b", "c", "c", "c"], dtype=object)
    rewards = scores.unsqueeze(-1)
    mask = torch.ones_like(rewards, dtype=torch.int64)
    truth = core_algos.compute_grpo_outcome_advantage(rewards.double(), mask, uid)[0]
    vectorized = core_algos.compute_grpo_vectorized_outcome_advantage(rewards, mask, uid)[0]
    ours = lens.compute_advantages(rewards, mask, uid, kind="grpo", epsilon=1e-6, singleton="verl").token_advantages
    lens_error, verl_error = max_error(ours, truth), max_error(vectorized, truth)
    assert lens_error <= F32_ULP * float(truth.abs().max())
    assert verl_error > 100 * lens_error  # what the one-pass variance costs
    assert torch.all(ours[5:] == 0)  # the constant group is exactly 0


@pytest.mark.parametrize("rewards", ["binary", "fractional", "shaped"])
def test_reinforce_pp_baseline_parity(rng, rewards):
    fn = core_algos.compute_reinforce_plus_plus_baseline_outcome_advantage
    for _ in range(4):
        batch = make_batch(rng, rewards=rewards)
        ours = lens.compute_reinforce_pp_baseline_advantages(batch.token_level_rewards, batch.response_mask,
                                                             batch.uid).token_advantages
        theirs32 = verl_call(fn, batch, torch.float32)
        theirs64 = verl_call(fn, batch, torch.float64)
        assert_at_least_as_close(ours, theirs32, theirs64, "reinforce++ baseline")


class _Config(dict):
    def __getattr__(self, name):
        return self[name]


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_reinforce_pp_parity(rng, gamma):
    fn = core_algos.compute_reinforce_plus_plus_outcome_advantage
    for rewards in ["binary", "shaped"]:
        batch = make_batch(rng, rewards=rewards)
        # token rewards anywhere, and masked gaps inside responses (observation spans)
        dense = batch.token_level_rewards + torch.from_numpy(rng.normal(size=batch.token_level_rewards.shape)
                                                             .astype("float32")) * batch.response_mask
        mask = batch.response_mask.clone()
        mask[:, 1::3] = 0
        mask[:, 0] = 1
        ours, our_returns = lens.compute_reinforce_pp_advantages(dense, mask, gamma)
        config = _Config(gamma=gamma)
        theirs32, returns32 = fn(dense, mask, config=config)
        theirs64, returns64 = fn(dense.double(), mask, config=config)
        assert_at_least_as_close(ours, theirs32, theirs64, "reinforce++ advantages")
        assert_at_least_as_close(our_returns, returns32, returns64, "reinforce++ returns")


def test_registry_has_the_lens_estimators():
    names = lens.verl.register()
    assert set(names) == {"lens", "lens_grpo", "lens_rloo", "lens_grpo_batch_std", "lens_reinforce_plus_plus",
                          "lens_reinforce_plus_plus_baseline"}
    for name in names:
        assert core_algos.get_adv_estimator_fn(name) is lens.verl._estimators[name]
    assert lens.verl.register() == names  # idempotent


def data_proto(batch, with_log_probs=True):
    from verl import DataProto

    tensors = {"token_level_rewards": batch.token_level_rewards.clone(), "response_mask": batch.response_mask}
    if with_log_probs:
        tensors["old_log_probs"] = batch.old_log_probs
    return DataProto.from_dict(tensors=tensors, non_tensors={"uid": batch.uid.copy()})


def test_verl_compute_advantage_runs_lens_with_old_log_probs(rng):
    """verl's own compute_advantage (ray_trainer) on a DataProto, estimator 'lens':
    the batch's old_log_probs reach lens, and the result is lens's."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import ray_trainer

    lens.verl.register()
    batch = make_batch(rng)
    data = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="lens",
                                         config=AlgoConfig(adv_estimator="lens"))
    expected = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid,
                                       batch.old_log_probs)
    assert torch.equal(data.batch["advantages"], expected.token_advantages)
    assert torch.equal(data.batch["returns"], expected.token_advantages)
    # negative groups carry gradient: verl's grpo gives them exactly 0
    grpo = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="grpo",
                                         config=AlgoConfig(adv_estimator="grpo"))
    zero_rows = (grpo.batch["advantages"] == 0).all(dim=1) & (batch.response_mask.sum(dim=1) > 0)
    assert zero_rows.any() and (data.batch["advantages"][zero_rows] != 0).any()


def test_verl_compute_advantage_lens_grpo_matches_verl_grpo(rng):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import ray_trainer

    lens.verl.register()
    batch = make_batch(rng, rewards="fractional")
    ours = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="lens_grpo",
                                         config=AlgoConfig(adv_estimator="lens_grpo")).batch["advantages"]
    theirs = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="grpo",
                                           config=AlgoConfig(adv_estimator="grpo")).batch["advantages"]
    truth = core_algos.compute_grpo_outcome_advantage(batch.token_level_rewards.double(), batch.response_mask,
                                                      batch.uid)[0]
    assert_at_least_as_close(ours, theirs, truth, "compute_advantage lens_grpo")
    no_std = ray_trainer.compute_advantage(
        data_proto(batch), adv_estimator="lens_grpo",
        config=AlgoConfig(adv_estimator="lens_grpo", norm_adv_by_std_in_grpo=False)).batch["advantages"]
    theirs_no_std = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="grpo",
                                                  config=AlgoConfig(adv_estimator="grpo"),
                                                  norm_adv_by_std_in_grpo=False).batch["advantages"]
    truth_no_std = core_algos.compute_grpo_outcome_advantage(batch.token_level_rewards.double(),
                                                             batch.response_mask, batch.uid,
                                                             norm_adv_by_std_in_grpo=False)[0]
    assert_at_least_as_close(no_std, theirs_no_std, truth_no_std, "compute_advantage lens_grpo, no std")


@pytest.mark.parametrize("ours,theirs", [("lens_reinforce_plus_plus", "reinforce_plus_plus"),
                                         ("lens_reinforce_plus_plus_baseline", "reinforce_plus_plus_baseline"),
                                         ("lens_rloo", "rloo")])
def test_verl_compute_advantage_other_estimators(rng, ours, theirs):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import ray_trainer

    lens.verl.register()
    batch = make_batch(rng, rewards="fractional")
    a = ray_trainer.compute_advantage(data_proto(batch), adv_estimator=ours,
                                      config=AlgoConfig(adv_estimator=ours, gamma=0.95)).batch["advantages"]
    b = ray_trainer.compute_advantage(data_proto(batch), adv_estimator=theirs,
                                      config=AlgoConfig(adv_estimator=theirs, gamma=0.95)).batch["advantages"]
    assert float((a.double() - b.double()).abs().max()) < 1e-5 * max(1.0, float(b.abs().max()))


def test_lens_settings_from_register_and_config(rng):
    from omegaconf import OmegaConf
    from verl.trainer.ppo import ray_trainer

    batch = make_batch(rng)
    lens.verl.register(alpha=0.5)
    config = OmegaConf.create({"adv_estimator": "lens", "lens": {"floor_factor": 3.0}})
    data = ray_trainer.compute_advantage(data_proto(batch), adv_estimator="lens", config=config)
    expected = lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid,
                                       batch.old_log_probs, alpha=0.5, floor_factor=3.0)
    lens.verl.register()
    assert torch.equal(data.batch["advantages"], expected.token_advantages)


def test_lens_without_old_log_probs_is_a_clear_error(rng):
    batch = make_batch(rng)
    lens.verl.register()
    estimator = core_algos.get_adv_estimator_fn("lens")
    with pytest.raises(ValueError, match="the LENS estimator needs old_log_probs"):
        estimator(batch.token_level_rewards, batch.response_mask, batch.uid, None)
    out = estimator(batch.token_level_rewards, batch.response_mask, batch.uid, None,
                    old_log_probs=batch.old_log_probs)[0]
    assert torch.equal(out, lens.compute_advantages(batch.token_level_rewards, batch.response_mask, batch.uid,
                                                    batch.old_log_probs).token_advantages)
