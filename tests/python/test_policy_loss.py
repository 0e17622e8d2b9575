"""lens's fused policy loss (torch.ops.lens.policy_loss) against verl's own
functions (verl 0.9.1 core_algos: compute_policy_loss_vanilla / _gspo /
_cispo / _sapo, kl_penalty, agg_loss; rollout_corr_helper:
compute_rollout_correction_weights): the loss, verl's metrics and the
gradient from torch autograd through verl's code, float64, to 1e-6 relative,
on random ragged batches, every mode; and under torch.compile."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import types
import zlib
import warnings

import numpy as np
import pytest
import torch

warnings.filterwarnings("ignore")


def _import_verl(name: str):
    """verl's module; where verl's package __init__ cannot import (it pulls
    in ray), its submodules are loaded without it."""
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - verl's optional dependencies
        spec = importlib.util.find_spec("verl")
        if spec is None:
            pytest.skip("verl is not installed")
        for key in [k for k in sys.modules if k == "verl" or k.startswith("verl.")]:
            del sys.modules[key]
        pkg = types.ModuleType("verl")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        sys.modules["verl"] = pkg
        return importlib.import_module(name)


core_algos = _import_verl("verl.trainer.ppo.core_algos")
rollout_corr = _import_verl("verl.trainer.ppo.rollout_corr_helper")
actor_config = _import_verl("verl.workers.config.actor")

import lens.policy_loss as lpl  # noqa: E402

REL = 1e-6


def make_batch(rng: np.random.Generator, n: int, t: int):
    lengths = rng.integers(0, t + 1, size=n)
    lengths[0] = max(1, lengths[0])  # at least one token in the batch
    mask = (np.arange(t)[None, :] < lengths[:, None]) & (rng.random((n, t)) > 0.1)
    mask[0, 0] = True
    logp = -0.02 - 4.0 * rng.random((n, t))
    old = np.minimum(0.0, logp + 0.3 * rng.normal(size=(n, t)))
    ref = np.minimum(0.0, logp + 0.5 * rng.normal(size=(n, t)))
    roll = np.minimum(0.0, old + 0.4 * rng.normal(size=(n, t)))
    adv = rng.normal(size=n)
    adv[rng.random(n) < 0.1] = 0.0
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return as_t(logp), as_t(old), as_t(ref), as_t(roll), as_t(mask.astype(np.int64)), as_t(adv)


def verl_config(clip_high: float, tau_pos=1.0, tau_neg=1.05):
    return actor_config.FSDPActorConfig(
        strategy="fsdp",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        ppo_mini_batch_size=1,
        use_dynamic_bsz=False,
        clip_ratio_low=0.2,
        clip_ratio_high=clip_high,
        tau_pos=tau_pos,
        tau_neg=tau_neg,
    )


def verl_loss(kind, agg, kl, is_level, is_threshold, logp, old, ref, roll, mask, adv_nt, clip_high):
    """verl's actor loss: policy_loss_fn(...) + kl_loss_coef * agg_loss(kl_penalty(...))."""
    config = verl_config(clip_high)
    mask_f = mask.to(logp.dtype)
    weights, is_metrics = None, {}
    if is_level != "none":
        weights, is_metrics = rollout_corr.compute_rollout_correction_weights(
            old - roll, mask_f, rollout_is=is_level, rollout_is_threshold=is_threshold
        )
    fn = core_algos.get_policy_loss_fn(kind)
    loss, metrics = fn(old, logp, adv_nt, mask_f, loss_agg_mode=agg, config=config, rollout_is_weights=weights)
    if kl != "none":
        kld = core_algos.kl_penalty(logp, ref, kl)
        loss = loss + core_algos.agg_loss(kld, mask_f, agg) * 0.1
    return loss, metrics, is_metrics


KINDS = ["vanilla", "gspo", "cispo", "sapo"]
AGGS = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
KLS = ["none", "kl", "abs", "mse", "low_var_kl", "k1+", "abs+", "low_var_kl+"]
IS = [("none", 2.0), ("token", 2.0), ("token", "0.5_1.5"), ("sequence", 3.0), ("sequence", "0.2_3.0")]


def lens_is_settings(level, threshold):
    if level == "none":
        return {}
    if isinstance(threshold, str):
        low, high = (float(x) for x in threshold.split("_"))
        return {"is_level": level, "is_mode": "mask", "is_threshold": high, "is_threshold_low": low}
    return {"is_level": level, "is_mode": "truncate", "is_threshold": float(threshold)}


def close(a: float, b: float, rel: float = REL, abs_tol: float = 1e-12) -> bool:
    return abs(a - b) <= abs_tol + rel * abs(b)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("agg", AGGS)
def test_every_mode_matches_verl(kind, agg):
    rng = np.random.default_rng(zlib.crc32(repr((kind, agg)).encode()))
    for case, (kl, (is_level, is_threshold)) in enumerate(itertools.product(KLS, IS)):
        if kind == "sapo" and agg != "seq-mean-token-mean":
            continue  # verl's sapo always aggregates seq-mean-token-mean
        n, t = int(rng.integers(2, 10)), int(rng.integers(1, 30))
        logp, old, ref, roll, mask, adv = make_batch(rng, n, t)
        clip_high = 0.28 if case % 2 else 0.2
        per_token = case % 3 == 1
        adv_nt = adv[:, None].expand(n, t).contiguous()

        x_verl = logp.clone().requires_grad_(True)
        try:
            v_loss, v_metrics, v_is = verl_loss(
                kind, agg, kl, is_level, is_threshold, x_verl, old, ref, roll, mask, adv_nt, clip_high
            )
        except ZeroDivisionError:
            continue  # verl's IS metrics divide by zero when IcePop drops every token of a tiny batch
        v_loss.backward()

        x = logp.clone().requires_grad_(True)
        settings = dict(kind=kind, aggregation=agg, clip_ratio_high=clip_high, kl=kl, kl_coef=0.1)
        settings.update(lens_is_settings(is_level, is_threshold))
        loss, metrics = lpl.policy_loss(
            x, old, adv_nt if per_token else adv, mask, ref_log_prob=ref, rollout_log_prob=roll, **settings
        )
        loss.backward()
        m = lpl.metrics_dict(metrics)
        what = f"{kind} {agg} kl={kl} is={is_level}/{is_threshold} N={n} T={t}"

        assert close(loss.item(), v_loss.item()), what
        assert torch.allclose(x.grad, x_verl.grad, rtol=REL, atol=1e-12), what
        assert close(m["pg_clipfrac"], v_metrics["actor/pg_clipfrac"]), what
        assert close(m["ppo_kl"], v_metrics["actor/ppo_kl"]), what
        assert close(m["clipfrac_dual"], v_metrics["actor/pg_clipfrac_lower"]), what
        if is_level != "none":
            assert close(m["is_weight_mean"], v_is["rollout_is_mean"]), what
            assert close(m["is_fraction_high"], v_is["rollout_is_ratio_fraction_high"]), what
            assert close(m["is_fraction_low"], v_is["rollout_is_ratio_fraction_low"]), what
            if is_level == "token":
                assert close(m["is_weight_max"], v_is["rollout_is_max"]), what
                assert close(m["is_weight_min"], v_is["rollout_is_min"]), what
        assert m["num_tokens"] == float(mask.sum())


def test_extreme_gaps_and_zero_advantages_match_verl():
    rng = np.random.default_rng(5)
    logp, old, ref, roll, mask, adv = make_batch(rng, 6, 16)
    old = old.clone()
    old[:, ::3] = torch.clamp(logp[:, ::3] + 25.0, max=0.0)  # ratio clamp at exp(-20)
    old[:, 1::4] = -30.0  # exp(+20)
    adv[1] = 0.0
    adv_nt = adv[:, None].expand_as(logp).contiguous()
    for kind in ["vanilla", "cispo", "sapo"]:
        agg = "seq-mean-token-mean" if kind == "sapo" else "token-mean"
        x_verl = logp.clone().requires_grad_(True)
        v_loss, v_metrics, _ = verl_loss(kind, agg, "low_var_kl", "none", 2.0, x_verl, old, ref, roll, mask, adv_nt, 0.2)
        v_loss.backward()
        x = logp.clone().requires_grad_(True)
        loss, metrics = lpl.policy_loss(x, old, adv, mask, ref_log_prob=ref, kind=kind, aggregation=agg, kl="low_var_kl", kl_coef=0.1)
        loss.backward()
        assert close(loss.item(), v_loss.item()), kind
        assert torch.allclose(x.grad, x_verl.grad, rtol=REL, atol=1e-12), kind


def test_compiled_graph_has_no_break_and_same_gradient():
    rng = np.random.default_rng(7)
    logp, old, ref, roll, mask, adv = make_batch(rng, 8, 12)

    def step(lp, o, a, m, r):
        loss, _ = lpl.policy_loss(lp, o, a, m, ref_log_prob=r, kind="gspo", kl="k3", kl_coef=0.01,
                                  aggregation="seq-mean-token-mean")
        return 2.0 * loss

    compiled = torch.compile(step, fullgraph=True)
    x1 = logp.clone().requires_grad_(True)
    step(x1, old, adv, mask, ref).backward()
    x2 = logp.clone().requires_grad_(True)
    compiled(x2, old, adv, mask, ref).backward()
    assert torch.allclose(x1.grad, x2.grad, rtol=1e-12, atol=0)
    assert x1.grad.abs().sum() > 0


def test_bad_inputs_are_named():
    rng = np.random.default_rng(9)
    logp, old, ref, roll, mask, adv = make_batch(rng, 3, 5)
    bad = logp.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"inputs.logprobs\[0\] is not finite"):
        lpl.policy_loss(bad, old, adv, mask)
    with pytest.raises(ValueError, match="settings.clip_ratio_c"):
        lpl.policy_loss(logp, old, adv, mask, clip_ratio_c=1.0)
    with pytest.raises(ValueError, match="settings.kind"):
        lpl.policy_loss(logp, old, adv, mask, kind="ppo2")
    with pytest.raises(ValueError, match="ref_log_prob"):
        lpl.policy_loss(logp, old, adv, mask, kl="k3")
    with pytest.raises(ValueError, match="unknown policy-loss settings"):
        lpl.policy_loss(logp, old, adv, mask, cliprange=0.2)
