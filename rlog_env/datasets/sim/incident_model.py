"""What an incident is: components, their interleaved log lines, and the hidden truth.

An incident is a simulated system over a span of time: several components (each a host running
one system family) with a topology (which depends on which), minutes to hours of their logs
interleaved in time order, and zero or more faults, each with an onset on one component, its
symptoms there and its cascade to the components that depend on it. :class:`Incident` is what
the investigation tools read (:mod:`rlog_env.datasets.sim.tools`); :class:`IncidentTruth` is what
only the scorer may know. Plain Python: no Gymnasium, no NumPy objects in the public fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# Levels as the tools filter them: every family's own level words map onto these.
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")


@dataclass(frozen=True)
class Component:
    """One component of an incident: ``name`` (``"postgresql-1"``), its system ``family``, the
    ``host`` it runs on, and the components it depends on (``depends_on``, by name)."""

    name: str
    family: str
    host: str
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentLine:
    """One log line: its ``component``, ``time`` (microseconds since the epoch, UTC), normalised
    ``level`` (one of :data:`LEVELS`), the ``text`` as the component wrote it (header and
    message), and its parsing ``template`` (variables as ``<*>``)."""

    component: str
    time: int
    level: str
    text: str
    template: str


@dataclass(frozen=True)
class FaultTruth:
    """One fault of an incident: its catalogue ``fault_id``, ``category``, the ``component``
    it starts on, its ``onset`` (microseconds), the components its cascade reached, and the
    indices (into :attr:`Incident.lines`) of the lines it wrote (symptoms and cascade)."""

    fault_id: str
    category: str
    component: str
    onset: int
    cascade_to: tuple[str, ...]
    lines: tuple[int, ...]
    root_cause: str


@dataclass(frozen=True)
class IncidentTruth:
    """What only the scorer knows: the faults (none in a healthy incident), whether a held-out
    family or fault type is involved, and each line's label (abnormal or not)."""

    faults: tuple[FaultTruth, ...]
    unseen: bool
    line_labels: tuple[bool, ...]


@dataclass(frozen=True)
class Incident:
    """An incident as the tools see it: ``components``, ``lines`` in time order, its time span
    (``start``, ``end``, microseconds) and an ``alert`` (the brief an investigation starts from:
    what paged the operator, in words, never the answer). ``truth`` is hidden from agents."""

    incident_id: str
    components: tuple[Component, ...]
    lines: Sequence[IncidentLine]
    start: int
    end: int
    alert: str
    truth: IncidentTruth


def incident_facts(incident: Incident) -> dict:
    """What the scorer of an investigation may know of ``incident``, as plain data (the task
    layer reads it without importing the simulator): its time span (``start``, ``end``), its
    components with their hosts, whether it involves a held-out family or fault type
    (``unseen``), and its ``faults`` in order of onset, each with its ``component``, ``host``,
    ``category``, ``onset`` (microseconds), ``cause`` (the root cause in words) and the indices
    of the ``lines`` it wrote. Never shown to an agent."""
    hosts = {c.name: c.host for c in incident.components}
    faults = sorted(incident.truth.faults, key=lambda f: (f.onset, f.component))
    return {
        "start": incident.start,
        "end": incident.end,
        "components": hosts,
        "unseen": incident.truth.unseen,
        "faults": [{"component": f.component, "host": hosts.get(f.component, ""), "category": f.category,
                    "onset": f.onset, "cause": f.root_cause, "lines": f.lines} for f in faults],
    }
