"""lens.Settings: lens::advantage_settings as a frozen Python dataclass.

Its fields, their order and their defaults come from the C++ struct through
the extension, and the presets from lens::presets, so Python and C++ share one
set of defaults. It is plain Python (no extension object), so it can be built
and passed inside torch.compile; it becomes the C++ struct only at the call.
Enum fields are the C++ enumerators' names as strings (kind="grpo", ...)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from . import _lens

#: The fields, in the C++ struct's declaration order.
FIELDS: tuple[str, ...] = tuple(_lens.settings_fields)


def _values(native: Any) -> dict[str, Any]:
    return {name: getattr(native, name) for name in FIELDS}


_DEFAULTS = _values(_lens.Settings())

Settings = dataclasses.make_dataclass(
    "Settings",
    [(name, type(value), dataclasses.field(default=value)) for name, value in _DEFAULTS.items()],
    frozen=True,
)
Settings.__module__ = __name__
Settings.__doc__ = (
    "The estimator and its parameters (lens::advantage_settings). Fields and defaults: "
    + ", ".join(f"{k}={v!r}" for k, v in _DEFAULTS.items())
    + ". See docs/ALGORITHM.md and the README's settings table for what each means."
)


def _preset(name: str):
    values = _values(getattr(_lens.presets, name)())

    def preset() -> Settings:
        return Settings(**values)

    preset.__name__ = name
    preset.__doc__ = f"lens::presets::{name}(): {values}"
    return preset


class presets:  # noqa: N801  (a namespace, as lens::presets in C++)
    """Settings matching each anchor's defaults (lens::presets)."""

    lens = staticmethod(_preset("lens"))
    verl_grpo = staticmethod(_preset("verl_grpo"))
    trl_grpo = staticmethod(_preset("trl_grpo"))
    openrlhf_grpo = staticmethod(_preset("openrlhf_grpo"))
    dr_grpo = staticmethod(_preset("dr_grpo"))
    trl_grpo_batch_std = staticmethod(_preset("trl_grpo_batch_std"))
    rloo = staticmethod(_preset("rloo"))


def make_settings(settings: Optional[Settings] = None, **overrides: Any) -> Settings:
    """`settings` (default: lens.presets.lens()) with keyword overrides.
    Unknown names raise ValueError; values are checked by the C++ core."""
    if settings is None:
        settings = Settings()
    elif not isinstance(settings, Settings):
        raise ValueError(f"lens: settings must be a lens.Settings (got {type(settings).__name__})")
    for name in overrides:
        if name not in FIELDS:
            raise ValueError(f"lens: settings.{name} is not a setting; the settings are {', '.join(FIELDS)}")
    return dataclasses.replace(settings, **overrides) if overrides else settings


def settings_args(settings: Settings) -> list[Any]:
    """The settings as a flat list of scalars, in FIELDS order (what the torch ops take)."""
    return [getattr(settings, name) for name in FIELDS]


def native(values: Any) -> Any:
    """The C++ struct for a Settings or its flat list of scalars (cached: a
    trainer passes the same few settings every step)."""
    if isinstance(values, _lens.Settings):
        return values
    if isinstance(values, Settings):
        values = settings_args(values)
    key = tuple(values)
    cached = _native_cache.get(key)
    if cached is None:
        cached = _native_cache[key] = _make_native(key)
        if len(_native_cache) > 256:
            _native_cache.pop(next(iter(_native_cache)))
    return cached


_native_cache: dict[tuple, Any] = {}


def _make_native(values: tuple) -> Any:
    result = _lens.Settings()
    for name, value in zip(FIELDS, values):
        try:
            setattr(result, name, value)
        except TypeError:
            raise ValueError(
                f"lens: settings.{name} is {value!r} ({type(value).__name__}); "
                f"expected {type(_DEFAULTS[name]).__name__}"
            ) from None
    return result
