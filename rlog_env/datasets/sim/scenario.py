"""Scenarios: one system family, a workload, zero or more faults, a seed -> labelled log lines.

:func:`generate` writes a log window — normal workflows interleaved with the faults' symptom
lines (in causal order, each after a few normal lines), their cascade, benign distractors and
out-of-order noise — and keeps, for every line, its template (log parsing) and whether it is
abnormal (anomaly detection), and for the window the reference interpretation, root cause and
solution of its faults and their key facts (the free-text tasks). Everything is drawn from the
generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, NamedTuple

import numpy as np

from rlog_env.datasets.sim.catalogue import Catalogue, Event, Family, Fault
from rlog_env.datasets.sim.clock import compile_format, start_time
from rlog_env.datasets.sim.values import Uniform, integer, uniform_stream

PRESETS = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Difficulty:
    """How hard a scenario is to read.

    Arguments:
        window: log lines in a window (faults' lines included), 4 to 200.
        distractors: benign lines that look alarming, per window.
        noise: share of normal lines drawn at random instead of following a workflow, in [0, 1].
        cascades: whether a fault's consequences (its cascade lines) are written too.
        max_faults: at most this many faults in one scenario (1 to 3); a second fault is drawn
            with probability 0.3.
        variable_density: log parsing picks lines with probability proportional to
            (1 + number of variables) ** variable_density; 0 picks uniformly.
    """

    window: int = 12
    distractors: int = 1
    noise: float = 0.1
    cascades: bool = True
    max_faults: int = 1
    variable_density: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            (isinstance(self.window, int) and 4 <= self.window <= 200, "window", "an int in [4, 200]"),
            (isinstance(self.distractors, int) and 0 <= self.distractors <= 20, "distractors", "an int in [0, 20]"),
            (isinstance(self.noise, (int, float)) and 0 <= self.noise <= 1, "noise", "a number in [0, 1]"),
            (isinstance(self.cascades, bool), "cascades", "a bool"),
            (isinstance(self.max_faults, int) and 1 <= self.max_faults <= 3, "max_faults", "an int in [1, 3]"),
            (isinstance(self.variable_density, (int, float)) and 0 <= self.variable_density <= 4,
             "variable_density", "a number in [0, 4]"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ValueError(f"Difficulty.{name} expects {expected}, got {getattr(self, name)!r}")

    @classmethod
    def of(cls, value: "str | Difficulty | Mapping") -> "Difficulty":
        """A difficulty from a preset name (``easy``, ``medium``, ``hard``), a mapping of
        fields, or a :class:`Difficulty`."""
        if isinstance(value, Difficulty):
            return value
        if isinstance(value, str):
            if value not in PRESETS:
                raise ValueError(f"difficulty expects one of {', '.join(PRESETS)}, a dict of "
                                 f"Difficulty fields or a Difficulty, got {value!r}")
            return {"easy": EASY, "medium": MEDIUM, "hard": HARD}[value]
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(cls.__dataclass_fields__))
            if unknown:
                raise ValueError(f"difficulty has unknown field(s) {', '.join(unknown)}; "
                                 f"expected some of {', '.join(cls.__dataclass_fields__)}")
            return cls(**value)
        raise ValueError(f"difficulty expects a preset name, a dict or a Difficulty, got {value!r}")


EASY = Difficulty(window=8, distractors=0, noise=0.0, cascades=False, max_faults=1)
MEDIUM = Difficulty()
HARD = Difficulty(window=30, distractors=3, noise=0.3, cascades=True, max_faults=2, variable_density=1.0)


class Line(NamedTuple):
    """One simulated log line, its message, its template and its label."""

    text: str
    message: str
    template: str
    abnormal: bool
    event: str
    variables: int


@dataclass(frozen=True)
class Scenario:
    """A generated scenario and everything the five tasks need from it."""

    family: str
    faults: tuple[str, ...]
    lines: tuple[Line, ...]
    interpretation: str
    root_cause: str
    solution: str
    facts: tuple[tuple[str, ...], ...]  # each: the fact, then its accepted synonyms
    entities: Mapping[str, str] = field(default_factory=dict)

    @property
    def window(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def abnormal(self) -> bool:
        return any(line.abnormal for line in self.lines)


@dataclass(frozen=True)
class _CompiledEvent:
    event: Event
    line_variables: tuple[str, ...]  # per-line variables this event's line needs
    template: str
    variables: int
    line_source: str  # the whole line as one str.format template (layout, level, component, message)


@dataclass(frozen=True)
class _CompiledFamily:
    family: Family
    format_time: object
    normal: tuple[_CompiledEvent, ...]
    by_id: Mapping[str, _CompiledEvent]
    workflows: tuple[tuple[_CompiledEvent, ...], ...]
    distractors: tuple[_CompiledEvent, ...]


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _compile_event(family: Family, event: Event) -> _CompiledEvent:
    names = set(event.message.names) | set(event.component.names) | set(family.layout.names)
    # One format template per line instead of three renders: the event's level, component
    # and message are put into the family layout once, here.
    fixed = {"level": _escape(family.levels[event.level]), "component": event.component.source,
             "message": event.message.source}
    line_source = "".join(_escape(literal) + ("" if name is None else fixed.get(name, "{" + name + "}"))
                          for literal, name in family.layout.pieces)
    return _CompiledEvent(event, tuple(sorted(n for n in names if n in family.variables)),
                          event.message.parsing_template(), len(event.message.names), line_source)


@lru_cache(maxsize=None)
def _compiled(catalogue: Catalogue, name: str) -> _CompiledFamily:
    family = catalogue.families[name]
    by_id = {eid: _compile_event(family, e) for eid, e in family.events.items()}
    normal = tuple(c for eid, c in by_id.items() if eid not in family.distractors)
    return _CompiledFamily(
        family, compile_format(family.timestamp), normal, by_id,
        tuple(tuple(by_id[e] for e in w) for w in family.workflows),
        tuple(by_id[e] for e in family.distractors),
    )


@lru_cache(maxsize=None)
def _compiled_fault(catalogue: Catalogue, fault_id: str) -> tuple[tuple[tuple[int, int], tuple[int, int], _CompiledEvent, bool], ...]:
    fault = catalogue.faults[fault_id]
    family = catalogue.families[fault.family]
    return tuple((s.repeat, s.gap, _compile_event(family, s.event), cascade)
                 for cascade, group in ((False, fault.symptoms), (True, fault.cascade)) for s in group)


def _pick(u: Uniform, items):
    return items[int(u() * len(items))]


def generate(catalogue: Catalogue, family_name: str, fault_ids: tuple[str, ...],
             difficulty: Difficulty, rng: np.random.Generator) -> Scenario:
    """Write one scenario of ``family_name`` with the faults ``fault_ids`` (possibly none)."""
    compiled = _compiled(catalogue, family_name)
    family = compiled.family
    u = uniform_stream(rng)
    entities = {name: draw(u) for name, draw in family.entities.items()}
    faults: list[Fault] = [catalogue.faults[f] for f in fault_ids]
    for fault in faults:
        entities.update((name, draw(u)) for name, draw in fault.entities.items())

    # The faults' lines, each with the number of normal lines to write before it.
    fault_lines: list[tuple[int, _CompiledEvent]] = []
    for fault in faults:
        for repeat, gap, event, cascade in _compiled_fault(catalogue, fault.id):
            if cascade and not difficulty.cascades:
                continue
            for _ in range(integer(u, *repeat)):
                fault_lines.append((integer(u, *gap), event))
    n_distractors = difficulty.distractors
    n_normal = max(2, difficulty.window - len(fault_lines) - n_distractors,
                   sum(g for g, _ in fault_lines) + 1)

    normal: list[_CompiledEvent] = []
    while len(normal) < n_normal:
        for event in _pick(u, compiled.workflows):
            normal.append(_pick(u, compiled.normal) if u() < difficulty.noise else event)
    normal = normal[:n_normal]

    events: list[tuple[_CompiledEvent, bool]] = []
    if fault_lines:
        slack = n_normal - sum(g for g, _ in fault_lines)
        position = int(u() * max(1, slack))
        events.extend((e, False) for e in normal[:position])
        for gap, event in fault_lines:
            events.extend((e, False) for e in normal[position:position + gap])
            position += gap
            events.append((event, True))
        events.extend((e, False) for e in normal[position:])
    else:
        events = [(e, False) for e in normal]
    for _ in range(n_distractors):
        events.insert(int(u() * (len(events) + 1)), (_pick(u, compiled.distractors), False))

    moment = start_time(u())
    format_time, variables = compiled.format_time, family.variables
    values = dict(entities)  # reused: each line sets the names its templates use
    lines = []
    for event, abnormal in events:
        for name in event.line_variables:
            values[name] = variables[name](u)
        # Gaps between lines: mostly milliseconds, now and then seconds.
        moment += int(u() * u() * 4_000_000)
        values["timestamp"] = format_time(moment)
        lines.append(Line(event.line_source.format_map(values), event.event.message.source.format_map(values),
                          event.template, abnormal, event.event.id, event.variables))

    texts = {key: " Separately: ".join(getattr(f, key).render(entities) for f in faults)
             for key in ("interpretation", "root_cause", "solution")}
    facts = tuple(
        tuple(t.render(entities) for t in (fact.text, *fact.synonyms))
        for fault in faults for fact in fault.facts
    )
    return Scenario(family_name, tuple(fault_ids), tuple(lines), texts["interpretation"],
                    texts["root_cause"], texts["solution"], facts, entities)
