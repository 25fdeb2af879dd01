"""The registry every layer keeps its extension points in: names to entries, three verbs.

Tasks, reward schemes, sources, environments and the per-kind hooks of the other layers
(baselines, field metrics, trajectory groundings, strategies) are each a :class:`Registry`: a
``dict`` (read it as one) whose :meth:`~Registry.add` checks the entry, refuses a name already
taken and returns the entry; :meth:`~Registry.remove` is its inverse; and
:meth:`~Registry.registered` adds an entry for the duration of a ``with`` block, so a test
leaves the registry as it found it. Plain Python, imported by every layer, importing nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")


class Registry(dict):
    """Names to registered entries.

    Arguments:
        what: what an entry is, for error messages (``"task"``, ``"baseline for kind"``).
        check: called as ``check(name, entry)`` before an entry is added; raises what is wrong.
        hint: how to add one, appended to the error for a name that is not registered.
    """

    def __init__(self, what: str, check: Callable[[Any, Any], None] | None = None, hint: str = ""):
        super().__init__()
        self.what, self.check, self.hint = what, check, hint

    def add(self, name: Any, entry: T) -> T:
        """Register ``entry`` under ``name`` and return it; a name already taken is a ``ValueError``."""
        if self.check is not None:
            self.check(name, entry)
        if name in self:
            raise ValueError(f"a {self.what} {name!r} is already registered; pick another name, "
                             "or unregister it first")
        self[name] = entry
        return entry

    def remove(self, name: Any) -> None:
        """Remove ``name``'s entry (the inverse of :meth:`add`); an unknown name is a ``ValueError``."""
        if name not in self:
            raise self.missing(name)
        del self[name]

    def missing(self, name: Any) -> ValueError:
        """The error for a name that is not registered: it lists the registered ones."""
        known = ", ".join(map(repr, self)) or "none"
        hint = f"; {self.hint}" if self.hint else ""
        return ValueError(f"no {self.what} {name!r} is registered (registered: {known}){hint}")

    @contextmanager
    def registered(self, name: Any, entry: T) -> Iterator[T]:
        """``entry`` registered under ``name`` for the duration of a ``with`` block."""
        self.add(name, entry)
        try:
            yield entry
        finally:
            if self.get(name) is entry:
                del self[name]
