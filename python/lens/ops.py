"""lens's torch operators (torch.library): opaque to autograd and to
torch.compile, which sees their shapes through the fake implementations, so a
compiled graph runs the C++ core without a graph break.

    torch.ops.lens.token_advantages(rewards, response_mask, ids, old_log_probs,
                                    group_size, *settings) -> (advantages [N],
                                    token_advantages [N, T], summary [7] float64)
"""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

from .settings import _DEFAULTS, FIELDS, Settings, settings_args

_SCHEMA_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}
_SETTINGS_SCHEMA = ", ".join(f"{_SCHEMA_TYPES[type(_DEFAULTS[name])]} {name}" for name in FIELDS)

_library = torch.library.Library("lens", "FRAGMENT")
_library.define(
    "token_advantages(Tensor rewards, Tensor response_mask, Tensor? ids, Tensor? old_log_probs, int group_size, "
    + _SETTINGS_SCHEMA
    + ") -> (Tensor, Tensor, Tensor)"
)


@torch.library.impl(_library, "token_advantages", "CompositeExplicitAutograd")
def _token_advantages(rewards, response_mask, ids, old_log_probs, group_size, *settings):
    from .advantages import run_token_advantages

    advantages, token_advantages, summary, _ = run_token_advantages(
        rewards, response_mask, ids, group_size, old_log_probs, settings, False
    )
    return advantages, token_advantages, torch.from_numpy(summary)


@torch.library.register_fake("lens::token_advantages", lib=_library)
def _token_advantages_fake(rewards, response_mask, ids, old_log_probs, group_size, *settings):
    n, t = response_mask.shape
    return (
        rewards.new_empty((n,)),
        rewards.new_empty((n, t)),
        torch.empty((7,), dtype=torch.float64, device="cpu"),
    )


def token_advantages(
    rewards: torch.Tensor,
    response_mask: torch.Tensor,
    ids: Optional[torch.Tensor],
    old_log_probs: Optional[torch.Tensor],
    group_size: int,
    settings: Settings,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The op under torch.compile (and any tracing mode); in plain eager mode
    the same implementation without the dispatcher's few microseconds."""
    args = settings_args(settings)
    if torch.compiler.is_compiling() or _get_current_dispatch_mode() is not None or type(rewards) is not torch.Tensor:
        return torch.ops.lens.token_advantages(rewards, response_mask, ids, old_log_probs, group_size, *args)
    return _token_advantages(rewards, response_mask, ids, old_log_probs, group_size, *args)
