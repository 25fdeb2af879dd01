"""Scenarios: one system family, a workload, zero or more faults, a seed -> labelled log lines.

:func:`generate` writes a log window — normal workflows interleaved with the faults' symptom
lines (in causal order, each after a few normal lines), their cascade, benign distractors and
out-of-order noise — and keeps, for every line, its template (log parsing) and whether it is
abnormal (anomaly detection), and for the window the reference interpretation, root cause and
solution of its faults and their key facts (the free-text tasks). Everything is drawn from the
generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import islice
from typing import Callable, Iterable, Mapping, NamedTuple

import numpy as np

from rlog_env.datasets.sim.catalogue import Catalogue, Event, Family, Fault
from rlog_env.datasets.sim.clock import compile_format, start_time
from rlog_env.datasets.sim.presets import check_fields, integer_in, number_in, settings_of
from rlog_env.datasets.sim.values import Uniform, Uniforms, Value, integer, pick



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
        check_fields(self, [
            ("window", integer_in(4, 200), "an int in [4, 200]"),
            ("distractors", integer_in(0, 20), "an int in [0, 20]"),
            ("noise", number_in(0, 1), "a number in [0, 1]"),
            ("cascades", lambda v: isinstance(v, bool), "a bool"),
            ("max_faults", integer_in(1, 3), "an int in [1, 3]"),
            ("variable_density", number_in(0, 4), "a number in [0, 4]"),
        ])

    @classmethod
    def of(cls, value: "str | Difficulty | Mapping") -> "Difficulty":
        """A difficulty from a preset name (``easy``, ``medium``, ``hard``), a mapping of
        fields, or a :class:`Difficulty`."""
        return settings_of(cls, value, {"easy": EASY, "medium": MEDIUM, "hard": HARD})


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
class _CompiledEvent:
    event: Event
    line_variables: tuple[str, ...]  # per-line variables this event's line needs
    template: str
    variables: int
    write: Callable[[list, int, Mapping[str, str], str], str]  # (floats, index, entities, timestamp) -> line
    message: Callable[[list, int, Mapping[str, str]], str]  # (floats, index, entities) -> message
    width: int  # the uniform floats the line's variables read


@dataclass(frozen=True)
class _CompiledFamily:
    family: Family
    format_time: Callable[[int], str]
    normal: tuple[_CompiledEvent, ...]
    by_id: Mapping[str, _CompiledEvent]
    workflows: tuple[tuple[_CompiledEvent, ...], ...]
    distractors: tuple[_CompiledEvent, ...]
    entities: tuple[tuple[str, Callable, int], ...]  # (name, Value.at, offset), in draw order
    entity_width: int


def _placed(values: Iterable[tuple[str, Value]]) -> tuple[tuple[tuple[str, Callable, int], ...], int]:
    """Each value's name, reader and offset, drawn one after the other; the floats they read."""
    placed, width = [], 0
    for name, value in values:
        placed.append((name, value.at, width))
        width += value.width
    return tuple(placed), width


def _writer(pieces: Iterable[tuple[str, str | None]], draws: Mapping[str, tuple[Callable, int]],
            arguments: str) -> Callable:
    """A function writing ``pieces`` (literal text and placeholders) as one f-string.

    Each placeholder is a per-line variable in ``draws`` (its reader and offset: read once,
    even if the text names it twice), ``timestamp``, or a scenario entity (``E[name]``). The
    literals go into the source through ``repr``, the names are checked identifiers, and the
    readers are bound by name: the catalogue's text is never code. A line costs one call
    instead of a dict update per variable and a ``format_map``.
    """
    pieces = tuple(pieces)
    used = [n for n in dict.fromkeys(name for _, name in pieces) if n in draws]
    scope: dict[str, object] = {}
    body = []
    for k, name in enumerate(used):
        at, offset = draws[name]
        scope[f"_at{k}"] = at
        body.append(f"    v{k} = _at{k}(F, i + {offset})")
    local = {name: f"v{k}" for k, name in enumerate(used)}
    parts = []
    for literal, name in pieces:
        if literal:
            parts.append(repr(literal))
        if name is not None:
            if not name.isidentifier():  # the catalogue checks this; the guard keeps it code-safe
                raise ValueError(f"placeholder {name!r} is not an identifier")
            expression = local.get(name) or ("timestamp" if name == "timestamp" else f"E[{name!r}]")
            parts.append(f'f"{{{expression}}}"')
    source = (f"def write({arguments}):\n" + "".join(line + "\n" for line in body)
              + f"    return {' '.join(parts) or repr('')}\n")
    exec(compile(source, f"<simulator line {''.join(lit for lit, _ in pieces)[:40]!r}>", "exec"), scope)
    return scope["write"]


def _compile_event(family: Family, event: Event) -> _CompiledEvent:
    names = set(event.message.names) | set(event.component.names) | set(family.layout.names)
    line_variables = tuple(sorted(n for n in names if n in family.variables))
    placed, width = _placed((n, family.variables[n]) for n in line_variables)
    draws = {name: (at, offset) for name, at, offset in placed}
    # The event's level, component and message are put into the family layout once, here.
    level = family.levels[event.level]
    line = []
    for literal, name in family.layout.pieces:
        line.append((literal, None))
        if name == "level":
            line.append((level, None))
        elif name == "component":
            line.extend(event.component.pieces)
        elif name == "message":
            line.extend(event.message.pieces)
        elif name is not None:
            line.append(("", name))
    return _CompiledEvent(event, line_variables, event.message.parsing_template(),
                          len(event.message.names), _writer(line, draws, "F, i, E, timestamp"),
                          _writer(event.message.pieces, draws, "F, i, E"), width)


@lru_cache(maxsize=None)
def _compiled(catalogue: Catalogue, name: str) -> _CompiledFamily:
    family = catalogue.families[name]
    by_id = {eid: _compile_event(family, e) for eid, e in family.events.items()}
    normal = tuple(c for eid, c in by_id.items() if eid not in family.distractors)
    entities, entity_width = _placed(family.entities.items())
    return _CompiledFamily(
        family, compile_format(family.timestamp), normal, by_id,
        tuple(tuple(by_id[e] for e in w) for w in family.workflows),
        tuple(by_id[e] for e in family.distractors), entities, entity_width,
    )


@lru_cache(maxsize=None)
def _compiled_fault(catalogue: Catalogue, fault_id: str) -> tuple[tuple[tuple[int, int], tuple[int, int], _CompiledEvent, bool], ...]:
    fault = catalogue.faults[fault_id]
    family = catalogue.families[fault.family]
    return tuple((s.repeat, s.gap, _compile_event(family, s.event), cascade)
                 for cascade, group in ((False, fault.symptoms), (True, fault.cascade)) for s in group)


@lru_cache(maxsize=None)
def _fault_entities(catalogue: Catalogue, fault_id: str) -> tuple[tuple[tuple[str, Callable, int], ...], int]:
    return _placed(catalogue.faults[fault_id].entities.items())


class Scenario:
    """A generated scenario and everything the simulator's tasks need from it.

    Attributes: ``family``, ``faults`` (fault ids), ``entities`` (the scenario's fixed values),
    ``lines`` (:class:`Line` each), ``texts`` (the lines' text), ``labels`` (whether each line is
    abnormal), ``window`` (the texts joined), ``abnormal``, ``interpretation``, ``root_cause``,
    ``solution`` and ``facts`` (each: the fact, then its accepted synonyms).

    :func:`generate` decides everything (which line, which floats each value reads) but writes
    text only when it is asked for: an anomaly-detection episode reads ``texts`` and never
    renders messages or reference texts, a parsing episode renders one :meth:`line`.
    """

    def __init__(self, family: str, faults: tuple[str, ...], entities: Mapping[str, str],
                 compiled: _CompiledFamily, fault_objects: tuple[Fault, ...],
                 events: tuple[tuple[_CompiledEvent, bool], ...], floats: list, base: int, start: int):
        self.family, self.faults, self.entities = family, faults, entities
        self._compiled, self._faults, self._events = compiled, fault_objects, events
        self._floats, self._base, self._start = floats, base, start

    def __repr__(self) -> str:
        return f"Scenario(family={self.family!r}, faults={self.faults!r}, lines={len(self._events)})"

    def __len__(self) -> int:
        return len(self._events)

    @cached_property
    def labels(self) -> tuple[bool, ...]:
        """Whether each line is abnormal."""
        return tuple(abnormal for _, abnormal in self._events)

    @property
    def variable_counts(self) -> tuple[int, ...]:
        """The number of variables in each line's message."""
        return tuple(event.variables for event, _ in self._events)

    @property
    def abnormal(self) -> bool:
        return any(abnormal for _, abnormal in self._events)

    def _placed_lines(self):
        """Each line's event, label, first float and time (microseconds), in order."""
        F, moment, i = self._floats, self._start, self._base
        for event, abnormal in self._events:
            j = i + event.width  # the line's variables read F[i:j]; its gap, the next two
            # Gaps between lines: mostly milliseconds, now and then seconds.
            moment += int(F[j] * F[j + 1] * 4_000_000)
            yield event, abnormal, i, moment
            i = j + 2

    def _line(self, event: _CompiledEvent, abnormal: bool, i: int, moment: int) -> Line:
        F, E = self._floats, self.entities
        return Line(event.write(F, i, E, self._compiled.format_time(moment)), event.message(F, i, E),
                    event.template, abnormal, event.event.id, event.variables)

    @cached_property
    def texts(self) -> tuple[str, ...]:
        """Each line's text."""
        F, E, format_time = self._floats, self.entities, self._compiled.format_time
        return tuple([event.write(F, i, E, format_time(moment))
                      for event, _, i, moment in self._placed_lines()])

    @cached_property
    def lines(self) -> tuple[Line, ...]:
        return tuple([self._line(*placed) for placed in self._placed_lines()])

    def line(self, index: int) -> Line:
        """Line ``index`` alone (the lines before it are stepped over, not written)."""
        if "lines" in self.__dict__:
            return self.lines[index]
        return self._line(*next(islice(self._placed_lines(), range(len(self._events))[index], None)))

    @property
    def window(self) -> str:
        return "\n".join(self.texts)

    def _reference(self, key: str) -> str:
        return " Separately: ".join(getattr(f, key).render(self.entities) for f in self._faults)

    @cached_property
    def interpretation(self) -> str:
        return self._reference("interpretation")

    @cached_property
    def root_cause(self) -> str:
        return self._reference("root_cause")

    @cached_property
    def solution(self) -> str:
        return self._reference("solution")

    @cached_property
    def facts(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(t.render(self.entities) for t in (fact.text, *fact.synonyms))
                     for fault in self._faults for fact in fault.facts)


def generate(catalogue: Catalogue, family_name: str, fault_ids: tuple[str, ...],
             difficulty: Difficulty, rng: np.random.Generator | Uniforms) -> Scenario:
    """Write one scenario of ``family_name`` with the faults ``fault_ids`` (possibly none),
    drawing from ``rng``: a generator, or the uniform stream of one (whose earlier floats the
    caller has used, e.g. to pick the family)."""
    compiled = _compiled(catalogue, family_name)
    stream = rng if isinstance(rng, Uniforms) else Uniforms(rng)
    u, F = stream.next, stream.floats
    i = stream.take(compiled.entity_width)
    entities = {name: at(F, i + offset) for name, at, offset in compiled.entities}
    faults: tuple[Fault, ...] = tuple(catalogue.faults[f] for f in fault_ids)
    for fault in faults:
        placed, width = _fault_entities(catalogue, fault.id)
        i = stream.take(width)
        entities.update((name, at(F, i + offset)) for name, at, offset in placed)

    # The faults' lines, each with the number of normal lines to write before it.
    fault_lines: list[tuple[int, _CompiledEvent]] = []
    for fault in faults:
        for repeat, gap, event, cascade in _compiled_fault(catalogue, fault.id):
            if cascade and not difficulty.cascades:
                continue
            for _ in range(integer(u, *repeat)):
                fault_lines.append((integer(u, *gap), event))
    n_distractors = difficulty.distractors
    gaps = sum(g for g, _ in fault_lines)
    n_normal = max(2, difficulty.window - len(fault_lines) - n_distractors, gaps + 1)

    normal: list[_CompiledEvent] = []
    noise, workflows, any_normal = difficulty.noise, compiled.workflows, compiled.normal
    while len(normal) < n_normal:
        for event in pick(u, workflows):
            normal.append(pick(u, any_normal) if u() < noise else event)
    del normal[n_normal:]

    events: list[tuple[_CompiledEvent, bool]]
    if fault_lines:
        position = int(u() * max(1, n_normal - gaps))
        events = [(e, False) for e in normal[:position]]
        for gap, event in fault_lines:
            events.extend([(e, False) for e in normal[position:position + gap]])
            position += gap
            events.append((event, True))
        events.extend([(e, False) for e in normal[position:]])
    else:
        events = [(e, False) for e in normal]
    for _ in range(n_distractors):
        events.insert(int(u() * (len(events) + 1)), (pick(u, compiled.distractors), False))

    start = start_time(u())
    # The lines' floats: each line's variables, then two for the gap before it. They are
    # handed out now, so the generator ends where writing every line would leave it.
    base = stream.take(sum(event.width for event, _ in events) + 2 * len(events))
    return Scenario(family_name, tuple(fault_ids), entities, compiled, faults, tuple(events), F, base, start)
