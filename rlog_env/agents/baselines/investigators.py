"""Baselines of the investigation environments: a scripted investigator and two trivial ones.

- :class:`ScriptedInvestigator` investigates as a runbook would: list the components, read each
  one's message templates, mark those a component's family never writes in normal operation
  (learnt from *training* incidents: the simulator's train split, seen domains, never the
  incidents it is evaluated on), find when each marked template first appears, and name the
  component whose trouble starts first; the category and cause come from what the marked
  templates meant in training incidents. Four turns: three of tools, one answer.
- :class:`AnswerNowAgent` answers at once, without a tool, that nothing is wrong.
- :class:`RandomToolsAgent` calls a random tool every turn and never answers (it is truncated).

Each writes the R-Log format; each reads the conversation it is given (its tool results) and
keeps no state between turns, so a batch may mix episodes at any turn. Deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping, Sequence

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline, NotFittedError
from rlog_env.tasks import INVESTIGATIONS, THINK_FIRST, get_investigation

# Words of trouble, for components whose family no training incident showed.
_TROUBLE = re.compile(r"error|fail|refused|timeout|timed out|exception|denied|unable|lost|cannot|fatal|panic",
                      re.IGNORECASE)
_TEMPLATE_ROW = re.compile(r"^([\d,]+): (.*)$")
_SEARCH_ROW = re.compile(r"^#\d+ (\S+) ")
_CLIP = " … [+"  # the tools' marker of a clipped line
_RARE = 0.01  # a template of an unknown family is suspicious under this share of its lines


def _tool_call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def _shown(template: str) -> str:
    """A template as the ``templates`` tool shows it, cut where the tool clips."""
    return template.split(_CLIP, 1)[0][:240]


def _pattern(template: str) -> str:
    """A search pattern for a template: its longest literal piece (no variables, no ``|``)."""
    pieces = [p.strip() for p in re.split(r"<\*>|\||\*", template)]
    return max(pieces, key=len)[:200] or template[:20]


def _turns(observation: Observation) -> list[list[Mapping[str, Any]]]:
    """The tool messages of each tool turn so far, in order."""
    turns: list[list[Mapping[str, Any]]] = []
    for message in observation.messages:
        if message.get("role") == "assistant":
            turns.append([])
        elif message.get("role") == "tool" and turns:
            turns[-1].append(message)
    return turns


def _task(observation: Observation):
    if observation.task not in INVESTIGATIONS:
        raise ValueError(f"investigation agents play the investigation environments "
                         f"({', '.join(INVESTIGATIONS)}), got an observation of task {observation.task!r}")
    return get_investigation(observation.task)


class _Investigator(Baseline):
    trains_on = "incidents"  # what fit() takes: a runner gives it training incidents, not samples

    def fit(self, incidents: Iterable[Any] = ()) -> "_Investigator":
        """Nothing to learn (the trivial investigators)."""
        self._check_params()
        return self

    def _answer(self, observation: Observation, diagnosis: Mapping[str, Any], think: str) -> str:
        answer = _task(observation).answer_of(diagnosis)
        return self._complete(json.dumps(answer, ensure_ascii=False), think)


class ScriptedInvestigator(_Investigator):
    """A runbook investigator (see the module docstring); ``fit`` it on training incidents."""

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "scripted-investigator"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, incidents: Iterable[Any]) -> "ScriptedInvestigator":
        """Learn from training incidents (:class:`~rlog_env.datasets.sim.incident_model.Incident`,
        read one at a time, e.g. a generator over the simulator's train split in seen domains):
        each family's normal templates, and for each symptom template the categories and causes
        it came with. Never give it the incidents it is evaluated on."""
        self._check_params()
        normal: dict[str, set[str]] = defaultdict(set)
        categories: dict[str, Counter] = defaultdict(Counter)
        causes: dict[str, Counter] = defaultdict(Counter)
        family_categories: dict[str, Counter] = defaultdict(Counter)
        seen = 0
        for incident in incidents:
            if not hasattr(incident, "truth") or not hasattr(incident, "lines"):
                raise ValueError(f"{self.name}.fit expects incidents (rlog_env.datasets.incidents.open_incidents), "
                                 f"got {type(incident).__name__}")
            seen += 1
            family = {c.name: c.family for c in incident.components}
            lines, labels = incident.lines, incident.truth.line_labels
            for component, template, abnormal in zip(lines.components, lines.templates, labels):
                if not abnormal:
                    normal[family[component]].add(_shown(template))
            for fault in incident.truth.faults:
                family_categories[family[fault.component]][fault.category] += 1
                for i in fault.lines:
                    if lines.components[i] == fault.component:
                        categories[_shown(lines.templates[i])][fault.category] += 1
                        causes[_shown(lines.templates[i])][fault.root_cause] += 1
        if not seen:
            raise ValueError(f"{self.name}.fit got no training incidents")
        self.n_incidents_seen_ = seen
        self.normal_templates_ = {f: frozenset(t) for f, t in normal.items()}
        self.symptom_categories_ = dict(categories)
        self.symptom_causes_ = dict(causes)
        self.family_categories_ = dict(family_categories)
        self.categories_ = sum(family_categories.values(), Counter())
        return self

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        if not hasattr(self, "normal_templates_"):
            raise NotFittedError(f"{self.name}: call fit() before act() (it learns from training incidents)")
        return [self._turn(observation) for observation in observations]

    def _turn(self, observation: Observation) -> str:
        _task(observation)
        turns = _turns(observation)
        if not turns:
            return _tool_call("list_components")
        components = _components(turns[0])
        if len(turns) == 1:
            return "".join(_tool_call("templates", component=name, limit=50) for name in list(components)[:8])
        suspicious = self._suspicious(turns[1], components)
        if not suspicious:
            return self._answer(observation, {"faulty": False},
                                "No component writes a template its family does not write in normal operation.")
        if len(turns) == 2:
            return "".join(_tool_call("search", pattern=_pattern(templates[0]), component=name, limit=1)
                           for name, templates in list(suspicious.items())[:8])
        return self._diagnose(observation, suspicious, turns[2], components)

    def _suspicious(self, messages, components: Mapping[str, tuple[str, int]]) -> dict[str, list[str]]:
        """Each component's templates its family never writes normally, rarest first."""
        out = {}
        for message in messages:
            header, _, body = message["content"].partition("\n")
            name = header[len("templates of "):].split(":", 1)[0] if header.startswith("templates of ") else ""
            if name not in components:
                continue
            family, lines = components[name]
            known = self.normal_templates_.get(family)
            rows = [(int(m.group(1).replace(",", "")), _shown(m.group(2)))
                    for m in map(_TEMPLATE_ROW.match, body.splitlines()) if m]
            if known is not None:
                odd = [(n, t) for n, t in rows if t not in known]
            else:  # a family never seen in training: rare lines with words of trouble
                odd = [(n, t) for n, t in rows if n <= max(3, _RARE * lines) and _TROUBLE.search(t)]
            if odd:
                out[name] = [t for _, t in sorted(odd, key=lambda row: row[0])]
        # Rare alarming lines of an unknown family are evidence only beside trouble a known family
        # shows (a fault cascades to its dependants); alone they are as likely its distractors.
        if not any(self.normal_templates_.get(components[name][0]) is not None for name in out):
            return {}
        return out

    def _diagnose(self, observation, suspicious, messages, components) -> str:
        """The fault's component: follow each suspicious component's first unusual line to the
        component it names (a client's error names the dependency that failed) back to a root;
        the root most chains lead to, the earliest on a tie. Category and cause: what its
        unusual templates meant in training incidents."""
        first: dict[str, str] = {}
        blames: dict[str, str] = {}
        for name, message in zip(suspicious, messages):
            for row in message["content"].splitlines()[1:]:
                match = _SEARCH_ROW.match(row)
                if match:
                    first[name] = match.group(1)
                    named = [other for other in components
                             if other != name and re.search(rf"(?<![\w-]){re.escape(other)}(?![\w-])", row)]
                    if named:
                        blames[name] = named[0]
                    break

        def root(name: str) -> str:
            path = {name}
            while name in blames and blames[name] not in path:
                name = blames[name]
                path.add(name)
            return name

        chains = Counter(root(name) for name in suspicious)
        never = "99:99:99"  # after every time the tools print
        origin = min(chains, key=lambda name: (-chains[name], first.get(name, never)))
        onset = first.get(origin) or min((first[n] for n in suspicious if root(n) == origin and n in first),
                                         default=None)
        votes, causes = Counter(), Counter()
        for template in suspicious.get(origin, ()):
            votes.update(self.symptom_categories_.get(template, Counter()))
            causes.update(self.symptom_causes_.get(template, Counter()))
        if not votes:  # symptoms no training incident showed: what this family's faults usually are
            votes = self.family_categories_.get(components[origin][0]) or self.categories_
        category = votes.most_common(1)[0][0] if votes else ""
        cause = causes.most_common(1)[0][0] if causes else f"A {category} fault on {origin}."
        diagnosis = {"faulty": True, "components": [origin], "component": origin, "onset": onset,
                     "category": category, "cause": cause}
        think = (f"Components with templates their family does not write normally: {', '.join(suspicious)}. "
                 f"Their trouble leads back to {origin}, first seen at {onset or 'an unknown time'}; "
                 f"what it writes points to {category}.")
        return self._answer(observation, diagnosis, think)


def _components(messages) -> dict[str, tuple[str, int]]:
    """Component -> (family, lines), from a ``list_components`` output."""
    out = {}
    for message in messages:
        for row in message["content"].splitlines()[2:]:
            cells = [cell.strip() for cell in row.split(" | ")]
            if len(cells) == 7 and cells[3].replace(",", "").isdigit():
                out[cells[0]] = (cells[2], int(cells[3].replace(",", "")))
    return out


class AnswerNowAgent(_Investigator):
    """Answers at the first turn, without a tool, that nothing is wrong (a constant)."""

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "answer-now"):
        self.reasoning = reasoning
        self.name = name

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        think = "Answer-now baseline: the same answer at once, without looking at the logs."
        return [self._answer(o, {"faulty": False}, think) for o in observations]


_RANDOM_CALLS = (
    ("list_components", {}),
    ("count", {"pattern": "error", "by": "minute"}),
    ("count", {"by": "level"}),
    ("search", {"pattern": "error|fail"}),
    ("search", {"pattern": "warn", "limit": 50}),
)


class RandomToolsAgent(_Investigator):
    """Calls a tool chosen at random (seeded by the conversation) every turn; never answers."""

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "random-tools"):
        self.reasoning = reasoning
        self.name = name

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        out = []
        for observation in observations:
            _task(observation)
            seed = hashlib.sha256(f"{observation.prompt}\0{len(observation.messages)}".encode("utf-8", "replace"))
            name, arguments = _RANDOM_CALLS[seed.digest()[0] % len(_RANDOM_CALLS)]
            out.append(_tool_call(name, **arguments))
        return out


INVESTIGATORS = {
    "scripted-investigator": ScriptedInvestigator,
    "answer-now": AnswerNowAgent,
    "random-tools": RandomToolsAgent,
}
"""The investigation baselines by command-line name."""
TRIVIAL_INVESTIGATORS = ("answer-now", "random-tools")

__all__ = ["INVESTIGATORS", "TRIVIAL_INVESTIGATORS", "AnswerNowAgent", "RandomToolsAgent", "ScriptedInvestigator"]
