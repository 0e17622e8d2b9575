"""lens: GRPO-family and LENS advantages for RL of language models.

    import lens
    out = lens.compute_advantages(token_level_rewards, response_mask, index, old_log_probs)
    out.token_advantages   # [N, T], verl's `advantages`
    out.summary            # negative groups, samples that carry gradient, ...

The C++ core (include/lens/) does the work on caller-owned buffers; this
package adds the torch operators (lens.ops), verl's estimator registry
(lens.verl.register()) and TRL's trainer (lens.trl.LensGRPOTrainer).
The algorithm: docs/ALGORITHM.md in the repository.
"""

from ._lens import version as __version__
from .advantages import (
    AdvantageResult,
    compute_advantages,
    compute_reinforce_pp_advantages,
    compute_reinforce_pp_baseline_advantages,
    compute_sequence_advantages,
)
from .settings import FIELDS as SETTINGS_FIELDS
from .settings import Settings, make_settings, presets

__all__ = [
    "AdvantageResult",
    "SETTINGS_FIELDS",
    "Settings",
    "compute_advantages",
    "compute_reinforce_pp_advantages",
    "compute_reinforce_pp_baseline_advantages",
    "compute_sequence_advantages",
    "make_settings",
    "presets",
]


def __getattr__(name: str):
    """Submodules that need torch load on first use, so `import lens` works
    with numpy alone: lens.policy_loss (the fused PPO-clip family), lens.ops,
    lens.verl, lens.trl, lens.distributed."""
    if name in ("policy_loss", "ops", "verl", "trl", "distributed"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lens' has no attribute {name!r}")
