"""Incidents: several components, hours of their interleaved logs, zero or more faults, a seed.

:func:`generate_incident` builds the :class:`~rlog_env.datasets.sim.incident_model.Incident` of
one ``(split, index)``: it picks the components (system families of the catalogue, each on a
host, with a topology: a DAG of which depends on which), writes every component's normal
workflows over the span in time order, and places each fault's symptom lines on its component
from its onset, its own cascade lines after them, and on the components that depend on it
(transitively, up to ``cascades`` hops) the client-side errors of ``catalogue/incidents.json``.
Distractors (benign lines that look alarming) and noise (random normal events instead of a
workflow's) come from the families. A stated share of incidents (``fault_free_share``) is
healthy; its alert reads like a faulty one's (the same briefs), so the alert never answers
"is something wrong".

Seeding (DESIGN.md): incident ``index`` of a split is drawn from the uniform stream of
``np.random.SeedSequence([root, split code, index, attempt])`` (:func:`~rlog_env.datasets.sim.
seeding.sample_stream`, bit for bit NumPy's ``default_rng`` floats), so the same index gives the
same incident in any process. ``train`` is endless; ``test`` is a fixed, versioned set of
:data:`TEST_SIZE` incidents from another seed root (the incidents carry random ids and
timestamps, so the two roots never give the same incident).

Domains as in the simulator: ``"seen"`` (default) uses only seen families and seen fault types;
``"unseen"`` gives incidents that involve at least one held-out family or fault type
(catalogue/splits.json); family names restrict the components to those families.

Plain Python: no Gymnasium. Every line's text is rendered when the incident is built (about
2 µs a line); :class:`IncidentLines` keeps them as columns and builds an
:class:`~rlog_env.datasets.sim.incident_model.IncidentLine` only when one is asked for.
"""

from __future__ import annotations

import json
import sys
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence, overload

from rlog_env.datasets.base import DataError
from rlog_env.datasets.sim.catalogue import Catalogue, Event, Template
from rlog_env.datasets.sim.clock import start_time
from rlog_env.datasets.sim.incident_model import Component, FaultTruth, Incident, IncidentLine, IncidentTruth
from rlog_env.datasets.sim.presets import check_fields, integer_in, number_in, settings_of
from rlog_env.datasets.sim.scenario import _compile_event, _compiled, _compiled_fault, _fault_entities
from rlog_env.datasets.sim.seeding import sample_stream
from rlog_env.datasets.sim.values import Uniforms, integer, pick

TRAIN, TEST = "train", "test"
SPLITS = (TRAIN, TEST)
SEEN, UNSEEN = "seen", "unseen"
TEST_SIZE = 200
TEST_VERSION = 1
# "Incd" and "InTs" + version: roots of their own, apart from the one-step simulator's.
TRAIN_ROOT, TEST_ROOT = 0x49_6E_63_64, 0x49_6E_54_73 + 1_000_003 * TEST_VERSION
_SPLIT_CODE = {TRAIN: 0, TEST: 1}
MAX_ATTEMPTS = 64
ALERT_LAG_MINUTES = (1.0, 10.0)  # an alert fires this long after the trouble it reports starts
# The catalogue's level words onto the tools' levels.
LEVEL_OF = {"debug": "DEBUG", "info": "INFO", "notice": "INFO", "warn": "WARN", "error": "ERROR",
            "critical": "FATAL", "fatal": "FATAL"}
_DEPENDENCY_NAMES = frozenset({"dependency", "dependency_host"})
_SECOND = 1_000_000


# -- difficulty -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentDifficulty:
    """How big and how hard an incident is.

    Arguments:
        components: components (hosts) in the incident, 2 to 12.
        lines: log lines in all, faults' lines included, 1,000 to 200,000.
        span: minutes the logs cover, 1 to 1,440.
        max_faults: at most this many faults (1 to 3); each further fault with probability 0.3.
        fault_free_share: the share of healthy incidents, in [0, 1].
        distractors: benign lines that look alarming, in the whole incident, 0 to 10,000.
        noise: share of normal lines drawn at random instead of following a workflow, in [0, 1].
        cascades: how many dependency hops a fault's consequences travel (0: none, not even the
            fault's own cascade lines; 1: its component's cascade and its direct dependants), 0 to 3.
    """

    components: int = 5
    lines: int = 10_000
    span: int = 60
    max_faults: int = 1
    fault_free_share: float = 0.2
    distractors: int = 20
    noise: float = 0.1
    cascades: int = 1

    def __post_init__(self) -> None:
        check_fields(self, [
            ("components", integer_in(2, 12), "an int in [2, 12]"),
            ("lines", integer_in(1_000, 200_000), "an int in [1000, 200000]"),
            ("span", integer_in(1, 1_440), "an int of minutes in [1, 1440]"),
            ("max_faults", integer_in(1, 3), "an int in [1, 3]"),
            ("fault_free_share", number_in(0, 1), "a number in [0, 1]"),
            ("distractors", integer_in(0, 10_000), "an int in [0, 10000]"),
            ("noise", number_in(0, 1), "a number in [0, 1]"),
            ("cascades", integer_in(0, 3), "an int in [0, 3]"),
        ])

    @classmethod
    def of(cls, value: "str | IncidentDifficulty | Mapping | None") -> "IncidentDifficulty":
        """A difficulty from a preset name (``easy``, ``medium``, ``hard``), a mapping of
        fields, an :class:`IncidentDifficulty`, or ``None`` (medium)."""
        return MEDIUM if value is None else settings_of(cls, value, {"easy": EASY, "medium": MEDIUM, "hard": HARD})


EASY = IncidentDifficulty(components=3, span=30, distractors=0, noise=0.0, cascades=1)
MEDIUM = IncidentDifficulty()
HARD = IncidentDifficulty(components=8, span=180, max_faults=2, distractors=80, noise=0.3, cascades=2)


# -- catalogue data for incidents -----------------------------------------------------------
@dataclass(frozen=True)
class FamilyIncidentData:
    host_prefix: str
    events: tuple  # compiled client-side error events (rlog_env.datasets.sim.scenario._CompiledEvent)


@dataclass(frozen=True)
class IncidentData:
    alerts: tuple[Template, ...]
    families: Mapping[str, FamilyIncidentData]


def load_incident_data_from(path: Path, catalogue: Catalogue) -> IncidentData:
    """Read and check ``incidents.json`` against ``catalogue``; ``DataError`` names the problem."""
    where = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("alerts"), list) or not raw["alerts"]:
        raise DataError(where, "expected a non-empty list 'alerts'")
    alerts = []
    for text in raw["alerts"]:
        if not isinstance(text, str):
            raise DataError(where, f"alerts must be strings, found {text!r}")
        template = Template.parse(text, where)
        unknown = sorted(set(template.names) - {"component", "host", "time"})
        if unknown:
            raise DataError(where, f"alert {text!r}: placeholders {unknown} are not component, host or time")
        alerts.append(template)
    families_raw = raw.get("families")
    if not isinstance(families_raw, dict):
        raise DataError(where, "expected an object 'families'")
    missing = sorted(set(catalogue.families) - set(families_raw))
    extra = sorted(set(families_raw) - set(catalogue.families))
    if missing or extra:
        raise DataError(where, f"families must be exactly the catalogue's; missing {missing}, unknown {extra}")
    families = {}
    for name in sorted(families_raw):
        obj, family = families_raw[name], catalogue.families[name]
        label = f"family {name!r}"
        if not isinstance(obj, dict):
            raise DataError(where, f"{label}: expected an object")
        prefix, component, level, messages = (obj.get(k) for k in ("host_prefix", "component", "level", "messages"))
        if not (isinstance(prefix, str) and prefix and prefix.replace("-", "").isalnum()):
            raise DataError(where, f"{label}: host_prefix must be letters, digits and dashes, found {prefix!r}")
        if not isinstance(component, str) or level not in family.levels:
            raise DataError(where, f"{label}: expected a string 'component' and a 'level' among "
                                   f"{', '.join(family.levels)}")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, str) for m in messages):
            raise DataError(where, f"{label}: messages must be a non-empty list of strings")
        known = set(family.entities) | set(family.variables) | _DEPENDENCY_NAMES
        events = []
        for k, text in enumerate(messages):
            message = Template.parse(text, where)
            unknown = sorted(set(message.names) - known)
            if unknown or "dependency" not in message.names:
                raise DataError(where, f"{label} message {text!r}: must name {{dependency}}, and only "
                                       f"{{dependency}}, {{dependency_host}} and the family's entities and "
                                       f"variables (unknown: {unknown})")
            event = Event(f"{name}/dependency{k}", level, Template.parse(component, where), message)
            events.append(_compile_event(family, event))
        families[name] = FamilyIncidentData(prefix, tuple(events))
    return IncidentData(tuple(alerts), families)


@lru_cache(maxsize=None)
def incident_data(catalogue: Catalogue) -> IncidentData:
    """The packaged ``catalogue/incidents.json``, checked against ``catalogue`` (once)."""
    with resources.as_file(resources.files("rlog_env.datasets.sim") / "catalogue" / "incidents.json") as path:
        return load_incident_data_from(Path(path), catalogue)


# -- the lines ------------------------------------------------------------------------------
class IncidentLines(Sequence[IncidentLine]):
    """The lines of an incident, in time order, kept as columns.

    ``lines[i]`` is an :class:`IncidentLine` (built on access); the columns ``components``,
    ``times``, ``levels``, ``texts`` and ``templates`` are tuples the tools may read directly
    (each string is shared between the lines that carry it).
    """

    __slots__ = ("components", "times", "levels", "texts", "templates")

    def __init__(self, components: tuple[str, ...], times: tuple[int, ...], levels: tuple[str, ...],
                 texts: tuple[str, ...], templates: tuple[str, ...]):
        self.components, self.times, self.levels = components, times, levels
        self.texts, self.templates = texts, templates

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, index: int) -> IncidentLine: ...

    @overload
    def __getitem__(self, index: slice) -> list[IncidentLine]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return IncidentLine(self.components[index], self.times[index], self.levels[index],
                            self.texts[index], self.templates[index])

    def __iter__(self):
        return map(IncidentLine, self.components, self.times, self.levels, self.texts, self.templates)

    def index_at(self, time: int) -> int:
        """The index of the first line at or after ``time`` (microseconds)."""
        return bisect_left(self.times, time)

    def __repr__(self) -> str:
        return f"IncidentLines({len(self)} lines)"


# -- domains --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Domain:
    component_families: tuple[str, ...]  # families a component may run
    faults: tuple[str, ...]  # fault types a fault may be
    unseen_families: tuple[str, ...]  # held-out families in component_families
    require_unseen: bool  # every incident involves a held-out family or fault type


@lru_cache(maxsize=None)
def _domain(catalogue: Catalogue, domains: tuple[str, ...]) -> _Domain:
    names = set(catalogue.families)
    unknown = sorted(set(domains) - names - {SEEN, UNSEEN})
    if unknown or not domains:
        raise ValueError(f"domains expects 'seen', 'unseen' or family names among "
                         f"{', '.join(sorted(names))}, got {list(domains) if not unknown else unknown}")
    unseen_f, unseen_x = catalogue.unseen_families, catalogue.unseen_faults
    families, faults = set(), set()
    for name in sorted(names):
        every = [f.id for f in catalogue.faults_of(name)]
        if SEEN in domains and name not in unseen_f:
            families.add(name)
            faults.update(f for f in every if f not in unseen_x)
        if UNSEEN in domains:  # any family may run beside the held-out one
            families.add(name)
            faults.update(f for f in every if name in unseen_f or f in unseen_x)
        if name in domains:
            families.add(name)
            faults.update(every)
    only_unseen = set(domains) == {UNSEEN}
    return _Domain(tuple(sorted(families)), tuple(sorted(faults)),
                   tuple(sorted(families & unseen_f)), only_unseen)


# -- generation -----------------------------------------------------------------------------
def _normalise_domains(domains) -> tuple[str, ...]:
    if domains is None:
        return (SEEN,)
    if isinstance(domains, str):
        return (domains,)
    return tuple(sorted(set(domains)))


def check_domains(catalogue: Catalogue, domains: "str | Sequence[str] | None") -> None:
    """Raise the ``ValueError`` :func:`generate_incident` would for a bad domain selection."""
    _domain(catalogue, _normalise_domains(domains))


def generate_incident(catalogue: Catalogue, index: int, split: str = TRAIN,
                      domains: "str | Sequence[str] | None" = None,
                      difficulty: "IncidentDifficulty | str | Mapping | None" = None) -> Incident:
    """Incident ``index`` of ``split`` (``"train"``: any index >= 0; ``"test"``: 0 <= index <
    :data:`TEST_SIZE`) for a domain selection and difficulty: the same arguments give the same
    incident, byte for byte, in any process."""
    if split not in SPLITS:
        raise ValueError(f"split expects 'train' or 'test', got {split!r}")
    if isinstance(index, bool) or not isinstance(index, int) and not hasattr(index, "__index__"):
        raise TypeError(f"an incident index must be an int, got {type(index).__name__}")
    index = int(index)
    limit = TEST_SIZE if split == TEST else sys.maxsize
    if not 0 <= index < limit:
        raise IndexError(f"incident index expects 0 <= index < {limit} for split {split!r}, got {index}")
    difficulty = IncidentDifficulty.of(difficulty)
    domain = _domain(catalogue, _normalise_domains(domains))
    root = TEST_ROOT if split == TEST else TRAIN_ROOT
    for attempt in range(MAX_ATTEMPTS):
        stream = Uniforms(sample_stream((root, _SPLIT_CODE[split], index, attempt)), block=256)
        incident = _build(catalogue, domain, difficulty, stream, f"sim/{split}/incident/{index}")
        if incident is not None:
            return incident
    raise RuntimeError(  # pragma: no cover - an attempt fails only in unseen draws, rarely
        f"no incident for {split} index {index} in {MAX_ATTEMPTS} attempts")


def _format_clock(micros: int) -> str:
    minutes = micros // (60 * _SECOND)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _build(catalogue: Catalogue, domain: _Domain, d: IncidentDifficulty, stream: Uniforms,
           incident_id: str) -> Incident | None:
    u, F = stream.next, stream.floats
    data = incident_data(catalogue)

    # Which faults, and which component families.
    healthy = not domain.faults or u() < d.fault_free_share
    fault_ids: list[str] = []
    if not healthy:
        fault_ids.append(pick(u, domain.faults))
        while len(fault_ids) < min(d.max_faults, d.components) and u() < 0.3:
            candidate = pick(u, domain.faults)
            if candidate not in fault_ids:
                fault_ids.append(candidate)
    families = [catalogue.faults[f].family for f in fault_ids]  # fault k runs on component k
    if healthy and domain.require_unseen:
        if not domain.unseen_families:
            return None
        families.append(pick(u, domain.unseen_families))
    while len(families) < d.components:
        families.append(pick(u, domain.component_families))
    unseen = (any(f in catalogue.unseen_families for f in families)
              or any(f in catalogue.unseen_faults for f in fault_ids))
    if domain.require_unseen and not unseen:
        return None

    # Topology: a random order; each component but the first depends on one or two earlier
    # ones. The faults' components are placed in the first half, so they have dependants.
    n = len(families)
    by_position = list(range(len(fault_ids), n))  # position p holds component by_position[p]
    for k in range(len(by_position) - 1, 0, -1):  # Fisher-Yates from the stream
        j = int(u() * (k + 1))
        by_position[k], by_position[j] = by_position[j], by_position[k]
    faulty = range(len(fault_ids))
    for k in faulty:
        by_position.insert(int(u() * (len(by_position) // 2 + 1)), k)
    order = [0] * n
    for p, k in enumerate(by_position):
        order[k] = p
    counts: dict[str, int] = {}
    names = []
    for k in range(n):
        counts[families[k]] = counts.get(families[k], 0) + 1
        names.append(f"{families[k]}-{counts[families[k]]}")
    host_numbers = list(range(1, 100))
    hosts = []
    for k in range(n):
        number = host_numbers.pop(int(u() * len(host_numbers)))
        hosts.append(f"{data.families[families[k]].host_prefix}-{number:02d}")
    depends: list[list[int]] = [[] for _ in range(n)]
    for p in range(1, n):
        k = by_position[p]
        first = by_position[int(u() * p)]
        depends[k].append(first)
        if p > 1 and u() < 0.3:
            second = by_position[int(u() * p)]
            if second != first:
                depends[k].append(second)
    dependants: list[list[int]] = [[] for _ in range(n)]
    for k in range(n):
        for j in depends[k]:
            dependants[j].append(k)
    for k in faulty:  # a fault in the last position still reaches someone
        if not dependants[k] and n > 1:
            later = [j for j in range(n) if order[j] > order[k]]
            if later:
                j = pick(u, later)
                depends[j].append(k)
                dependants[k].append(j)
    components = tuple(Component(names[k], families[k], hosts[k], tuple(sorted(names[j] for j in depends[k])))
                       for k in by_position)

    # Each component's scenario values; a family "host" value is the component's host.
    compiled = [_compiled(catalogue, f) for f in families]
    entities: list[dict] = []
    for k in range(n):
        c = compiled[k]
        i = stream.take(c.entity_width)
        values = {name: at(F, i + offset) for name, at, offset in c.entities}
        if "host" in values:
            values["host"] = hosts[k]
        entities.append(values)
    for k, fault_id in enumerate(fault_ids):
        placed, width = _fault_entities(catalogue, fault_id)
        i = stream.take(width)
        entities[k].update((name, at(F, i + offset)) for name, at, offset in placed)

    span = d.span * 60 * _SECOND
    start = start_time(u()) // _SECOND * _SECOND
    end = start + span

    # Records: (time, component, compiled event, entities, fault index or -1).
    rec_time: list[int] = []
    rec_comp: list[int] = []
    rec_event: list = []
    rec_values: list = []
    rec_fault: list[int] = []
    weights = [0.5 + u() for _ in range(n)]
    interval = [0] * n

    # The faults' lines first (their count decides how many normal lines remain).
    truths = []
    for k, fault_id in enumerate(fault_ids):
        share = n * weights[k] / sum(weights)
        interval[k] = max(1, int(span / max(1.0, d.lines * share / n)))
        onset = start + int(span * (0.15 + 0.5 * u()))
        t, first = onset, len(rec_time)
        for repeat, gap, event, cascade in _compiled_fault(catalogue, fault_id):
            if cascade and d.cascades < 1:
                continue
            for _ in range(integer(u, *repeat)):
                t += int((integer(u, *gap) + u()) * interval[k]) + 1
                rec_time.append(min(t, end - 1))
                rec_comp.append(k)
                rec_event.append(event)
                rec_values.append(entities[k])
                rec_fault.append(k)
        onset = rec_time[first]  # the fault starts with its first symptom line
        # The cascade through the dependants, hop by hop.
        reached: list[str] = []
        frontier, seen_nodes = [(k, onset)], {k}
        for _hop in range(d.cascades):
            next_frontier = []
            for source, since in frontier:
                for j in sorted(dependants[source], key=order.__getitem__):
                    if j in seen_nodes:
                        continue
                    seen_nodes.add(j)
                    reached.append(names[j])
                    events = data.families[families[j]].events
                    values = {**entities[j], "dependency": names[source], "dependency_host": hosts[source]}
                    t_j = since + int((1 + 30 * u()) * _SECOND)
                    first_j = t_j
                    for _ in range(integer(u, 2, 6)):
                        rec_time.append(min(t_j, end - 1))
                        rec_comp.append(j)
                        rec_event.append(pick(u, events))
                        rec_values.append(values)
                        rec_fault.append(k)
                        t_j += int((0.2 + 20 * u()) * _SECOND)
                    next_frontier.append((j, first_j))
            frontier = next_frontier
        truths.append((fault_id, k, onset, tuple(reached), first))

    # Distractors, and for a healthy incident a small benign burst on the alerted component.
    # An alert fires some minutes after the trouble it reports starts (so its time is not the
    # onset): ALERT_LAG_MINUTES after a fault's first line, or after a healthy incident's burst.
    alert_k = None
    lag = int((ALERT_LAG_MINUTES[0] + (ALERT_LAG_MINUTES[1] - ALERT_LAG_MINUTES[0]) * u()) * 60 * _SECOND)
    burst_time = start + int(span * (0.2 + 0.5 * u()))
    bursts: list[tuple[int, int]] = [(pick(u, range(n)), start + int(u() * span)) for _ in range(d.distractors)]
    if healthy:
        alert_k = int(u() * n)
        bursts += [(alert_k, burst_time + int(u() * 120 * _SECOND)) for _ in range(integer(u, 2, 5))]
    for k, t in bursts:
        rec_time.append(min(t, end - 1))
        rec_comp.append(k)
        rec_event.append(pick(u, compiled[k].distractors))
        rec_values.append(entities[k])
        rec_fault.append(-1)

    # Normal workflows on every component, over the whole span.
    total = sum(weights)
    remaining = max(n, d.lines - len(rec_time))
    quotas = [int(remaining * w / total) for w in weights]
    quotas[0] += remaining - sum(quotas)
    noise = d.noise
    for k in range(n):
        c, quota = compiled[k], quotas[k]
        events: list = []
        workflows, anything = c.workflows, c.normal
        while len(events) < quota:
            for event in pick(u, workflows):
                events.append(pick(u, anything) if u() < noise else event)
        del events[quota:]
        i = stream.take(quota)
        times = sorted([start + int(f * span) for f in F[i:i + quota]])
        rec_time += times
        rec_comp += [k] * quota
        rec_event += events
        rec_values += [entities[k]] * quota
        rec_fault += [-1] * quota

    # Time order (ties keep the order of the records: deterministic), then the text.
    count = len(rec_time)
    ordered = sorted(range(count), key=rec_time.__getitem__)
    position = [0] * count
    for p, r in enumerate(ordered):
        position[r] = p
    base = stream.take(sum(e.width for e in rec_event))
    F = stream.floats
    texts, templates, levels, comps, times = [], [], [], [], []
    format_times = [c.format_time for c in compiled]
    level_of = {}
    i = base
    for r in ordered:
        event, k, t = rec_event[r], rec_comp[r], rec_time[r]
        texts.append(event.write(F, i, rec_values[r], format_times[k](t)))
        i += event.width
        level = level_of.get(event)
        if level is None:
            level = level_of[event] = LEVEL_OF[event.event.level]
        levels.append(level)
        templates.append(event.template)
        comps.append(names[k])
        times.append(t)
    labels = [False] * count
    fault_lines: list[list[int]] = [[] for _ in fault_ids]
    for r in range(count):
        f = rec_fault[r]
        if f >= 0:
            labels[position[r]] = True
            fault_lines[f].append(position[r])

    faults = []
    for fault_id, k, onset, reached, _first in truths:
        fault = catalogue.faults[fault_id]
        faults.append(FaultTruth(fault_id, fault.category, names[k], onset, reached,
                                 tuple(sorted(fault_lines[k])), fault.root_cause.render(entities[k])))

    # The alert: a component showing trouble (the fault's, or one its cascade reached) and
    # the minute it started, or for a healthy incident a component and a minute at random.
    trouble = burst_time
    if fault_ids:
        candidates = [names[0], *truths[0][3]]
        target = pick(u, candidates)
        alert_k = names.index(target)
        trouble = next((times[p] for p in fault_lines[0] if comps[p] == target), truths[0][2])
    alert_time = min(trouble + lag, max(trouble, end - 60 * _SECOND))
    alert = pick(u, data.alerts).render({"component": names[alert_k], "host": hosts[alert_k],
                                         "time": _format_clock(alert_time)})
    lines = IncidentLines(tuple(comps), tuple(times), tuple(levels), tuple(texts), tuple(templates))
    return Incident(incident_id, components, lines, start, end, alert,
                    IncidentTruth(tuple(faults), unseen, tuple(labels)))


__all__ = ["EASY", "HARD", "MEDIUM", "TEST_SIZE", "TEST_VERSION", "IncidentDifficulty",
           "IncidentLines", "check_domains", "generate_incident", "incident_data", "load_incident_data_from"]
