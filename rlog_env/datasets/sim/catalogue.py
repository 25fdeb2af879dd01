"""The simulator's world model and fault catalogue: JSON data, loaded and checked once.

The catalogue lives in ``catalogue/`` beside this module, as data:

- ``families/<name>.json``: one system family (a distributed file system, a web server, ...):
  its log line layout, timestamp style, level spellings, components, scenario entities
  (values fixed for a whole scenario: the node, the volume), per-line variables, the events it
  logs in normal operation (each a message template), its normal workflows (sequences of
  events) and its distractors (benign events that look alarming).
- ``faults/<family>.json``: a list of faults of that family: symptoms (the lines the fault
  writes, in order, with how often and after how many normal lines), cascade (what it leads to
  later), the reference interpretation, root cause and solution in plain operator language, and
  the key facts (with accepted synonyms) a good answer states.
- ``splits.json``: which families and fault types are held out as ``unseen``.

Templates use ``{name}`` placeholders (``{{`` and ``}}`` for literal braces). A placeholder
names a scenario entity, a per-line variable, or a fault entity; in a log line's layout also
``timestamp``, ``level``, ``component`` and ``message``. Each placeholder in a message is a
variable of the line's template: the log-parsing reference is the message with every
placeholder replaced by ``<*>``. See docs/simulator.md for the full format.

:func:`load_catalogue` reads and validates everything once per process; a mistake raises
:class:`~rlog_env.datasets.base.DataError` naming the file and what was expected.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from rlog_env.datasets.base import DataError
from rlog_env.datasets.sim.values import Draw, compile_spec

LEVELS = ("debug", "info", "notice", "warn", "error", "critical", "fatal")
LAYOUT_FIELDS = ("timestamp", "level", "component", "message")
CATALOGUE_VERSION = 1
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Template:
    """A text with ``{name}`` placeholders, split once for fast rendering."""

    source: str
    pieces: tuple[tuple[str, str | None], ...]  # (literal, placeholder or None)

    @classmethod
    def parse(cls, text: str, where: str) -> "Template":
        try:
            parsed = list(_FORMATTER.parse(text))
        except ValueError as exc:
            raise DataError(where, f"bad template {text!r}: {exc}; write literal braces as {{{{ and }}}}") from None
        pieces = []
        for literal, name, spec, conversion in parsed:
            if name is not None and (spec or conversion or not name.isidentifier()):
                raise DataError(where, f"bad placeholder {{{name}}} in {text!r}: expected {{name}} only")
            pieces.append((literal, name))
        return cls(text, tuple(pieces))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.pieces if name is not None)

    def render(self, values: Mapping[str, str]) -> str:
        # The source is a str.format template of plain {name} fields: format_map runs in C.
        return self.source.format_map(values)

    def parsing_template(self) -> str:
        """The log-parsing reference: every placeholder becomes ``<*>``."""
        return "".join(literal + ("<*>" if name is not None else "") for literal, name in self.pieces)


@dataclass(frozen=True)
class Event:
    """One kind of log line: its level, component and message template."""

    id: str
    level: str
    component: Template  # may name per-line variables too, e.g. "sshd[{pid}]"
    message: Template


@dataclass(frozen=True)
class Family:
    """A system family: how its logs look and what it does when healthy."""

    name: str
    title: str
    kind: str
    loghub: str | None
    layout: Template
    timestamp: str
    levels: Mapping[str, str]
    entities: Mapping[str, Draw]
    variables: Mapping[str, Draw]
    events: Mapping[str, Event]
    workflows: tuple[tuple[str, ...], ...]
    distractors: tuple[str, ...]


@dataclass(frozen=True)
class Symptom:
    """A line a fault writes: ``repeat`` times, each after ``gap`` normal lines (ranges)."""

    event: Event
    repeat: tuple[int, int]
    gap: tuple[int, int]


@dataclass(frozen=True)
class Fact:
    """A key fact a good answer states, and the phrasings accepted for it."""

    text: Template
    synonyms: tuple[Template, ...]  # may name scenario values too, e.g. "{node} is full"


@dataclass(frozen=True)
class Fault:
    """A fault type: how it shows in the logs, what caused it, how to fix it, the key facts."""

    id: str
    family: str
    title: str
    category: str
    entities: Mapping[str, Draw]
    symptoms: tuple[Symptom, ...]
    cascade: tuple[Symptom, ...]
    interpretation: Template
    root_cause: Template
    solution: Template
    facts: tuple[Fact, ...]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per process
class Catalogue:
    """Every family and fault, and the seen/unseen split."""

    families: Mapping[str, Family]
    faults: Mapping[str, Fault]
    unseen_families: frozenset[str]
    unseen_faults: frozenset[str]
    version: int = CATALOGUE_VERSION

    def faults_of(self, family: str) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults.values() if f.family == family)


# -- loading --------------------------------------------------------------------------------
def _require(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(where, f"expected a field {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(where, f"field {key!r} must be a {names}, found {type(value).__name__}")
    return value


def _specs(obj: Mapping[str, Any], where: str) -> dict[str, Draw]:
    out = {}
    for name, spec in sorted(obj.items()):
        if not name.isidentifier() or not isinstance(spec, str):
            raise DataError(where, f"expected name: value-spec pairs, found {name!r}: {spec!r}")
        try:
            out[name] = compile_spec(spec)
        except ValueError as exc:
            raise DataError(where, f"{name}: {exc}") from None
    return out


def _range(value: Any, where: str, what: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) for v in value)
            or not 0 <= value[0] <= value[1]):
        raise DataError(where, f"{what} must be [low, high] with 0 <= low <= high, found {value!r}")
    return value[0], value[1]


def _event(obj: Any, event_id: str, levels: Mapping[str, str], known: set[str], where: str) -> Event:
    level = _require(obj, "level", str, where)
    if level not in levels:
        raise DataError(where, f"event {event_id!r}: level {level!r} is not one of the family's levels "
                               f"{', '.join(levels)}")
    message = Template.parse(_require(obj, "message", str, where), where)
    _check_names(message, known, f"event {event_id!r}", where)
    component = Template.parse(_require(obj, "component", str, where), where)
    _check_names(component, known, f"event {event_id!r} component", where)
    return Event(event_id, level, component, message)


def _check_names(template: Template, known: set[str], what: str, where: str) -> None:
    unknown = sorted(set(template.names) - known)
    if unknown:
        raise DataError(where, f"{what}: placeholder(s) {', '.join(unknown)} are not entities or "
                               f"variables of the family (known: {', '.join(sorted(known))})")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None


def load_family(path: Path) -> Family:
    """Read and check one family file."""
    where = str(path)
    raw = _load_json(path)
    name = _require(raw, "name", str, where)
    if name != path.stem:
        raise DataError(where, f"family name {name!r} must equal the file name {path.stem!r}")
    levels = _require(raw, "levels", dict, where)
    bad = sorted(set(levels) - set(LEVELS))
    if bad or not all(isinstance(v, str) for v in levels.values()):
        raise DataError(where, f"levels must map some of {', '.join(LEVELS)} to spellings; found {bad or levels}")
    entities = _specs(_require(raw, "entities", dict, where), where)
    variables = _specs(_require(raw, "variables", dict, where), where)
    clash = sorted((set(entities) & set(variables)) | ((set(entities) | set(variables)) & set(LAYOUT_FIELDS)))
    if clash:
        raise DataError(where, f"names used twice or reserved: {', '.join(clash)}")
    known = set(entities) | set(variables)
    layout = Template.parse(_require(raw, "layout", str, where), where)
    _check_names(layout, known | set(LAYOUT_FIELDS), "layout", where)
    if "message" not in layout.names:
        raise DataError(where, "layout must contain {message}")
    events = {}
    for event_id, obj in sorted(_require(raw, "events", dict, where).items()):
        events[event_id] = _event(obj, event_id, levels, known, where)
    workflows = tuple(tuple(w) for w in _require(raw, "workflows", list, where))
    distractors = tuple(_require(raw, "distractors", list, where))
    for ids, what in [(i, "workflow") for w in workflows for i in [w]] + [(distractors, "distractors")]:
        missing = sorted({i for i in ids if i not in events})
        if missing or not ids:
            raise DataError(where, f"{what} {list(ids)!r} names unknown events {missing}" if missing
                            else f"empty {what}")
    loghub = raw.get("loghub")
    timestamp = _require(raw, "timestamp", str, where)
    return Family(name, _require(raw, "title", str, where), _require(raw, "kind", str, where),
                  loghub if isinstance(loghub, str) else None, layout, timestamp, dict(levels),
                  entities, variables, events, workflows, distractors)


def _symptoms(items: Any, family: Family, known: set[str], where: str, fault_id: str, what: str) -> tuple[Symptom, ...]:
    if not isinstance(items, list):
        raise DataError(where, f"fault {fault_id!r}: {what} must be a list")
    out = []
    for i, item in enumerate(items):
        label = f"fault {fault_id!r} {what}[{i}]"
        event = _event(_require(item, "event", dict, where), f"{fault_id}/{what}{i}", family.levels, known, where)
        out.append(Symptom(event, _range(item.get("repeat", [1, 1]), where, f"{label}.repeat"),
                           _range(item.get("gap", [0, 2]), where, f"{label}.gap")))
    return tuple(out)


def load_faults(path: Path, families: Mapping[str, Family]) -> list[Fault]:
    """Read and check one fault file (a JSON list of faults of one family)."""
    where = str(path)
    raw = _load_json(path)
    if not isinstance(raw, list) or not raw:
        raise DataError(where, "expected a non-empty JSON list of faults")
    faults = []
    for obj in raw:
        fault_id = _require(obj, "id", str, where)
        family_name = _require(obj, "family", str, where)
        if family_name not in families:
            raise DataError(where, f"fault {fault_id!r}: unknown family {family_name!r}")
        if not fault_id.startswith(family_name + "."):
            raise DataError(where, f"fault id {fault_id!r} must start with its family, '{family_name}.'")
        family = families[family_name]
        entities = _specs(obj.get("entities", {}), where)
        clash = sorted(set(entities) & (set(family.entities) | set(family.variables)))
        if clash:
            raise DataError(where, f"fault {fault_id!r}: entities {', '.join(clash)} already exist in the family")
        known = set(family.entities) | set(family.variables) | set(entities)
        scenario_names = set(family.entities) | set(entities)
        symptoms = _symptoms(_require(obj, "symptoms", list, where), family, known, where, fault_id, "symptoms")
        if not symptoms:
            raise DataError(where, f"fault {fault_id!r}: expected at least one symptom")
        cascade = _symptoms(obj.get("cascade", []), family, known, where, fault_id, "cascade")
        texts = {}
        for key in ("interpretation", "root_cause", "solution"):
            template = Template.parse(_require(obj, key, str, where), where)
            # Reference texts may only name values fixed for the whole scenario.
            _check_names(template, scenario_names, f"fault {fault_id!r} {key}", where)
            if len(template.source.split()) < 8:
                raise DataError(where, f"fault {fault_id!r} {key}: expected a full sentence of 8 words or more")
            texts[key] = template
        facts = []
        for fact in _require(obj, "facts", list, where):
            text = Template.parse(_require(fact, "text", str, where), where)
            _check_names(text, scenario_names, f"fault {fault_id!r} fact", where)
            synonyms = fact.get("synonyms", [])
            if not isinstance(synonyms, list) or not all(isinstance(s, str) and s for s in synonyms):
                raise DataError(where, f"fault {fault_id!r} fact {text.source!r}: synonyms must be a list of strings")
            parsed = tuple(Template.parse(syn, where) for syn in synonyms)
            for syn in parsed:
                _check_names(syn, scenario_names, f"fault {fault_id!r} fact synonym", where)
            facts.append(Fact(text, parsed))
        if len(facts) < 2:
            raise DataError(where, f"fault {fault_id!r}: expected at least two key facts")
        faults.append(Fault(fault_id, family_name, _require(obj, "title", str, where),
                            _require(obj, "category", str, where), entities, symptoms, cascade,
                            texts["interpretation"], texts["root_cause"], texts["solution"], tuple(facts)))
    return faults


def load_catalogue_from(root: Path) -> Catalogue:
    """Read and check the catalogue under ``root`` (families/, faults/, splits.json)."""
    families = {}
    for path in sorted((root / "families").glob("*.json")):
        family = load_family(path)
        families[family.name] = family
    if not families:
        raise DataError(root / "families", "expected family files <name>.json")
    faults: dict[str, Fault] = {}
    for path in sorted((root / "faults").glob("*.json")):
        for fault in load_faults(path, families):
            if fault.id in faults:
                raise DataError(path, f"fault id {fault.id!r} is defined twice")
            faults[fault.id] = fault
    splits_path = root / "splits.json"
    splits = _load_json(splits_path)
    unseen_families = frozenset(_require(splits, "unseen_families", list, str(splits_path)))
    unseen_faults = frozenset(_require(splits, "unseen_faults", list, str(splits_path)))
    unknown = sorted((unseen_families - set(families)) | (unseen_faults - set(faults)))
    if unknown:
        raise DataError(splits_path, f"names unknown families or faults: {', '.join(unknown)}")
    if set(families) <= unseen_families:
        raise DataError(splits_path, "every family is unseen: keep some seen")
    for name in families:
        if not faults_of(faults, name):
            raise DataError(root / "faults", f"family {name!r} has no faults; expected faults/{name}.json")
        if name not in unseen_families and not [f for f in faults_of(faults, name) if f.id not in unseen_faults]:
            raise DataError(splits_path, f"seen family {name!r} has no seen fault")
    return Catalogue(families, faults, unseen_families, unseen_faults)


def faults_of(faults: Mapping[str, Fault], family: str) -> list[Fault]:
    return [f for f in faults.values() if f.family == family]


@lru_cache(maxsize=None)
def load_catalogue() -> Catalogue:
    """The packaged catalogue, read once per process."""
    with resources.as_file(resources.files("rlog_env.datasets.sim") / "catalogue") as root:
        return load_catalogue_from(Path(root))
