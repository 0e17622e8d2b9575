"""lens in verl's advantage-estimator registry.

    import lens.verl
    lens.verl.register()          # then: algorithm.adv_estimator=lens

registers, with verl's call signature (token_level_rewards, response_mask,
index, config, **kwargs) -> (advantages, returns):

- ``lens``: LENS advantages (docs/ALGORITHM.md), from the batch's
  ``old_log_probs``;
- ``lens_grpo``, ``lens_rloo``, ``lens_grpo_batch_std``: the same numbers as
  verl's ``grpo`` / ``rloo`` (and TRL's batch-std GRPO), computed by lens;
- ``lens_reinforce_plus_plus``, ``lens_reinforce_plus_plus_baseline``: verl's
  REINFORCE++ estimators (gamma from verl's algorithm config).

verl's ``compute_advantage`` hands registered estimators only the rewards,
the mask, the uids and the config; LENS also needs the behaviour log-probs,
which are in the batch (``data.batch["old_log_probs"]``) at that point in
every verl trainer. ``register()`` therefore wraps verl's
``compute_advantage`` (in ``verl.trainer.ppo.ray_trainer`` and in every
loaded module that imported it by name) with a function that, only for the
lens estimators, makes the batch visible to the estimator for the duration of
the call (a context variable; thread- and task-safe), then runs verl's own
function unchanged. An estimator that finds no log-probs, neither as an
``old_log_probs`` keyword (what a future verl may pass) nor in the batch,
raises ValueError instead of computing something else.

LENS settings: the keyword arguments of ``register()`` (e.g. alpha=0.5), then
per call the ``lens`` entry of verl's algorithm config when it has one
(``+algorithm.lens.alpha=0.5`` on verl's command line); verl's
``norm_adv_by_std_in_grpo`` is honoured by every estimator.
"""

from __future__ import annotations

import contextvars
import functools
import sys
from typing import Any, Callable, Optional

from .advantages import (
    compute_advantages,
    compute_reinforce_pp_advantages,
    compute_reinforce_pp_baseline_advantages,
)
from .settings import Settings, make_settings, presets

#: The estimator names register() adds, with the settings each starts from.
ESTIMATORS: dict[str, Callable[[], Settings]] = {
    "lens": presets.lens,
    "lens_grpo": presets.verl_grpo,
    "lens_rloo": presets.rloo,
    "lens_grpo_batch_std": lambda: make_settings(presets.trl_grpo_batch_std(), epsilon=1e-6, singleton="verl"),
}

_current_batch: contextvars.ContextVar[Optional[Any]] = contextvars.ContextVar("lens_verl_batch", default=None)
_overrides: dict[str, Any] = {}


def _config_overrides(config: Any) -> dict[str, Any]:
    """Settings from verl's algorithm config: its norm_adv_by_std_in_grpo and
    its optional `lens` mapping."""
    out: dict[str, Any] = {}
    if config is None:
        return out
    getter = getattr(config, "get", None)
    if getter is None:
        return out
    norm = getter("norm_adv_by_std_in_grpo", None)
    if norm is not None:
        out["normalize_by_std"] = bool(norm)
    extra = getter("lens", None)
    if extra:
        out.update({str(k): v for k, v in dict(extra).items()})
    return out


def _old_log_probs(kwargs: dict[str, Any]) -> Any:
    if kwargs.get("old_log_probs") is not None:
        return kwargs["old_log_probs"]
    batch = _current_batch.get()
    if batch is not None and "old_log_probs" in batch.keys():
        return batch["old_log_probs"]
    raise ValueError(
        "lens.verl: the LENS estimator needs old_log_probs ([N, T] behaviour log-probs) and found none: call "
        "lens.verl.register() before verl's trainer computes advantages (it makes data.batch['old_log_probs'] "
        "visible), or pass old_log_probs= to the estimator"
    )


def make_estimator(name: str) -> Callable[..., tuple[Any, Any]]:
    """The verl estimator function for one of ESTIMATORS."""
    base = ESTIMATORS[name]

    def estimator(token_level_rewards, response_mask, index=None, config=None, **kwargs):
        settings = make_settings(base(), **{**_overrides, **_config_overrides(config)})
        if index is None:
            raise ValueError(f"lens.verl: estimator {name!r} needs verl's uid index (data.non_tensor_batch['uid'])")
        old_log_probs = _old_log_probs(kwargs) if settings.kind == "lens" else None
        out = compute_advantages(token_level_rewards, response_mask, index, old_log_probs, settings=settings)
        advantages = out.token_advantages
        return advantages, advantages

    estimator.__name__ = f"compute_{name}_advantage"
    estimator.__qualname__ = estimator.__name__
    estimator.__doc__ = f"lens-backed verl advantage estimator {name!r} (see lens.verl)."
    return estimator


def compute_lens_reinforce_plus_plus_advantage(token_level_rewards, response_mask, config=None, **kwargs):
    """verl's REINFORCE++ (gamma from config.gamma, default 1), computed by lens."""
    gamma = 1.0 if config is None else float(config.get("gamma", 1.0))
    return compute_reinforce_pp_advantages(token_level_rewards, response_mask, gamma)


def compute_lens_reinforce_plus_plus_baseline_advantage(token_level_rewards, response_mask, index=None, config=None,
                                                        **kwargs):
    """verl's REINFORCE++-baseline, computed by lens."""
    if index is None:
        raise ValueError("lens.verl: REINFORCE++-baseline needs verl's uid index (data.non_tensor_batch['uid'])")
    advantages = compute_reinforce_pp_baseline_advantages(token_level_rewards, response_mask, index).token_advantages
    return advantages, advantages


_estimators = {name: make_estimator(name) for name in ESTIMATORS}
_estimators["lens_reinforce_plus_plus"] = compute_lens_reinforce_plus_plus_advantage
_estimators["lens_reinforce_plus_plus_baseline"] = compute_lens_reinforce_plus_plus_baseline_advantage


def _wrap_compute_advantage(original: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(original, "__lens_wrapped__", None) is not None:
        return original

    @functools.wraps(original)
    def compute_advantage(data, adv_estimator, *args, **kwargs):
        name = getattr(adv_estimator, "value", adv_estimator)
        if name not in _estimators:
            return original(data, adv_estimator, *args, **kwargs)
        token = _current_batch.set(data.batch)
        try:
            return original(data, adv_estimator, *args, **kwargs)
        finally:
            _current_batch.reset(token)

    compute_advantage.__lens_wrapped__ = original
    return compute_advantage


def register(**settings_overrides: Any) -> list[str]:
    """Registers the lens estimators with verl (idempotent) and lets verl's
    compute_advantage pass the batch's old_log_probs to them. Keyword
    arguments are Settings overrides for every lens estimator (alpha=...).
    Returns the registered names."""
    from verl.trainer.ppo import core_algos, ray_trainer

    make_settings(None, **settings_overrides)  # unknown names raise here
    _overrides.clear()
    _overrides.update(settings_overrides)
    for name, fn in _estimators.items():
        registered = core_algos.ADV_ESTIMATOR_REGISTRY.get(name)
        if registered is None:
            core_algos.register_adv_est(name)(fn)
        elif registered is not fn:
            raise ValueError(f"lens.verl: verl already has an estimator named {name!r} ({registered})")

    original = ray_trainer.compute_advantage
    wrapped = _wrap_compute_advantage(original)
    unwrapped = getattr(wrapped, "__lens_wrapped__", original)
    # Modules that did `from verl.trainer.ppo.ray_trainer import compute_advantage`.
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("verl") and getattr(module, "compute_advantage", None) is unwrapped:
            module.compute_advantage = wrapped
    ray_trainer.compute_advantage = wrapped
    return list(_estimators)
