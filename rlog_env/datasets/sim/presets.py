"""Difficulty settings: range-checked fields and named presets.

The one-step simulator's :class:`~rlog_env.datasets.sim.scenario.Difficulty` and the incidents'
:class:`~rlog_env.datasets.sim.incident.IncidentDifficulty` are frozen dataclasses of numbers
with three presets each; this module checks their fields and reads the ``difficulty=`` argument
(a preset name, a dict of fields, or an instance) for both.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable, Mapping, Sequence

Rule = tuple[str, Callable[[Any], bool], str]  # field, its check, what it expects (for the error)


def integer_in(low: int, high: int) -> Callable[[Any], bool]:
    """A check: an ``int`` (not a ``bool``) in [low, high]."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def number_in(low: float, high: float) -> Callable[[Any], bool]:
    """A check: an ``int`` or ``float`` (not a ``bool``) in [low, high]."""
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high


def check_fields(settings: Any, rules: Sequence[Rule]) -> None:
    """Raise ``ValueError("<Class>.<field> expects …, got …")`` for the first field that fails."""
    for name, ok, expected in rules:
        value = getattr(settings, name)
        if not ok(value):
            raise ValueError(f"{type(settings).__name__}.{name} expects {expected}, got {value!r}")


def settings_of(cls: type, value: Any, presets: Mapping[str, Any]) -> Any:
    """An instance of ``cls`` from a preset name, a mapping of its fields or an instance; a
    ``ValueError`` names the presets or the fields otherwise."""
    name = cls.__name__
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        if value not in presets:
            raise ValueError(f"difficulty expects one of {', '.join(presets)}, a dict of {name} fields "
                             f"or a {name}, got {value!r}")
        return presets[value]
    if isinstance(value, Mapping):
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(map(str, value)) - set(names))
        if unknown:
            raise ValueError(f"difficulty has unknown field(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(names)}")
        return cls(**value)
    raise ValueError(f"difficulty expects a preset name, a dict or a {name}, got {value!r}")
