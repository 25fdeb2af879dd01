"""Reward schemes: how a task's judgement of an answer becomes the format and answer rewards.

A scheme is one object (:class:`~rlog_env.tasks.schemes.base.RewardScheme`) in a module of its
own: its format rule, its values for a malformed or empty completion, how it maps a task's
:class:`~rlog_env.tasks.base.Judgement` to the answer reward, its range and its top value.
:data:`SCHEMES` maps names to the registered schemes; :func:`register_scheme` adds one (from
outside the package too) and :func:`unregister_scheme` removes it.
"""

from __future__ import annotations

from rlog_env._registry import Registry
from rlog_env.tasks.schemes.base import RewardScheme
from rlog_env.tasks.schemes.grounded import GROUNDED, GroundedScheme
from rlog_env.tasks.schemes.hardened import HARDENED, HardenedScheme, register_hardening
from rlog_env.tasks.schemes.rlog import RLOG, RLogScheme
from rlog_env.tasks.schemes.unit import UNIT, UnitScheme


def _check(name: str, scheme: RewardScheme) -> None:
    if not isinstance(scheme, RewardScheme):
        raise TypeError(f"register_scheme expects a RewardScheme, got {type(scheme).__name__}")


SCHEMES: Registry = Registry("reward scheme", _check)


def register_scheme(scheme: RewardScheme) -> RewardScheme:
    """Register ``scheme`` under its ``name``; a name already taken is a ``ValueError``."""
    return SCHEMES.add(getattr(scheme, "name", None), scheme)


def unregister_scheme(name: str) -> None:
    """Remove the scheme ``name`` (the inverse of :func:`register_scheme`)."""
    SCHEMES.remove(name)


def registered_scheme(scheme: RewardScheme):
    """``scheme`` registered for the duration of a ``with`` block (for tests)."""
    return SCHEMES.registered(getattr(scheme, "name", None), scheme)


def get_scheme(name: str) -> RewardScheme:
    """The registered scheme ``name``, or a ``ValueError`` listing the schemes and what each is."""
    scheme = SCHEMES.get(name) if isinstance(name, str) else None
    if scheme is None:
        described = "; ".join(f"{s.name!r} {s.description}" for s in SCHEMES.values())
        raise ValueError(f"reward expects one of {', '.join(map(repr, SCHEMES))}, got {name!r}: {described}")
    return scheme


def check_scheme(reward: str) -> str:
    """Return ``reward`` if it names a registered scheme, else raise a ``ValueError``."""
    get_scheme(reward)
    return reward


for _scheme in (RLogScheme(), UnitScheme(), GroundedScheme(), HardenedScheme()):
    register_scheme(_scheme)

__all__ = ["GROUNDED", "HARDENED", "RLOG", "SCHEMES", "UNIT", "GroundedScheme", "HardenedScheme",
           "RLogScheme", "RewardScheme", "UnitScheme", "check_scheme", "get_scheme", "register_hardening",
           "register_scheme", "registered_scheme", "unregister_scheme"]
