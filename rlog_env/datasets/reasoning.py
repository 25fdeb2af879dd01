"""Reasoning trajectories for R-Log's cold start: samples -> (reasoning, answer) pairs.

A trajectory follows one of the task's reasoning strategies (:mod:`rlog_env.tasks.strategies`):
each step gets a sentence or two grounded in *this* sample, and the last step concludes the
reference. How a sample is grounded hangs on its task's kind (:func:`register_grounding`): the
built-in kinds read the simulator's causal chain (``facts["faults"]`` through the catalogue,
``facts["line_labels"]``) where a sample carries it, and otherwise what the logs themselves
show (variable tokens, failure words, components). A teacher (any callable ``samples ->
completions``) can replace the rule-based trajectories where its completions earn at least
``threshold`` under the task's own reward (rejection sampling).

Plain Python: nothing here imports torch, the agents, the environments or the leaderboard.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from rlog_env._registry import Registry
from rlog_env.tasks import LABEL, TEMPLATE, TEXT, Sample, get_task, parse_completion
from rlog_env.tasks.formats import ANSWER_FIRST, NO_TAGS, THINK_FIRST, check_format, write_completion
from rlog_env.tasks.registry import TASKS
from rlog_env.tasks.strategies import STRATEGIES, Strategy, has_strategies, strategies_for
from rlog_env.tasks.vocabulary import ALARMING_WORDS as _FAIL  # the one failure vocabulary
from rlog_env.tasks.vocabulary import BENIGN_WORDS as _BENIGN

RULE, TEACHER = "rule", "teacher"
MIN_WORDS, MAX_WORDS = 40, 150
CARD_VERSION = 1
TRAJECTORIES_FILE, CARD_FILE, README_FILE = "trajectories.jsonl", "card.json", "README.md"
Teacher = Callable[[Sequence[Sample]], Sequence[str]]

_TOKEN = re.compile(r"\S+")
_BGL_LOCATION = re.compile(r"\bR\d{2}-M\d(?:-[A-Z0-9:]+)*(?:-[A-Z0-9]+)*")
_SEVERITY = re.compile(r"\b(INFO|WARNING|WARN|SEVERE|ERROR|FATAL|FAILURE|CRITICAL)\b")
_COMPONENT = re.compile(
    r"(?:\b(?:[A-Za-z_][\w$]*\.){2,}[A-Za-z_][\w$]*\b"          # dotted java/python names
    r"|\b[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+\b"                       # CamelCase
    r"|\b[\w-]+\.(?:php|py|java|conf|html?|js|xml|json|yml|yaml|ini|cfg|sh|log|jar|war)\b"
    r"|\bmod_\w+\b|\b[A-Z]{2,}[_A-Z0-9]*\b)")


# -- the trajectory -------------------------------------------------------------------------
@dataclass(frozen=True)
class Trajectory:
    """One reasoning trajectory: the sample it is about, the reasoning and the answer.

    ``answer`` is the sample's reference (rule-based trajectories) or the teacher's accepted
    answer; ``strategy`` names the strategy followed (``"teacher"`` for a teacher's own
    reasoning); ``origin`` says who wrote it, ``"rule"`` or ``"teacher"``.
    """

    id: str
    task: str
    domain: str
    source: str
    split: str
    strategy: str
    reasoning: str
    answer: str
    instruction: str
    logs: str
    reference: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    origin: str = RULE

    def completion(self, reasoning_format: str = THINK_FIRST) -> str:
        """The completion as a model writes it: ``think-first`` (R-Log), ``answer-first``
        (R-Log-fast) or ``none`` (the answer alone)."""
        return write_completion(self.answer, self.reasoning, reasoning_format)

    def sample(self) -> Sample:
        """The sample this trajectory is about: what the environment shows and scores against
        (its prompt and its reward are the sample's, whoever wrote the trajectory)."""
        return Sample(self.task, self.domain, self.logs, self.reference, instruction=self.instruction,
                      facts=dict(self.facts))

    def as_record(self) -> dict[str, Any]:
        """A JSON-safe dict, with both tagged completions and the word counts."""
        record = asdict(self)
        record["facts"] = _jsonable(self.facts)
        record["think_first"] = self.completion(THINK_FIRST)
        record["answer_first"] = self.completion(ANSWER_FIRST)
        record["reasoning_words"] = _count(self.reasoning)
        record["answer_words"] = _count(self.answer)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Trajectory":
        """The trajectory of a record written by :meth:`as_record` (the derived keys are ignored)."""
        if not isinstance(record, Mapping):
            raise TypeError(f"a trajectory record must be a JSON object, got {type(record).__name__}")
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in record and n not in ("facts", "origin")]
        if missing:
            raise KeyError(f"missing keys {missing}")
        return cls(**{n: record[n] for n in names if n in record})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _count(text: str) -> int:
    return len(text.split())


# -- small text helpers ---------------------------------------------------------------------
def _quote(text: str, around: int | None = None, width: int = 10) -> str:
    """An exact piece of ``text`` of at most ``width`` tokens, in curly quotes, centred near
    character ``around`` (the start when ``None``)."""
    spans = [m.span() for m in _TOKEN.finditer(text)]
    if not spans:
        return "“”"
    first = 0
    if around is not None:
        first = next((i for i, (s, e) in enumerate(spans) if e > around), 0)
        first = max(0, first - 3)
    last = min(len(spans), first + width)
    first = max(0, last - width)
    piece = text[spans[first][0]:spans[last - 1][1]]
    return f"“{piece}”"


def _fail_match(line: str) -> re.Match | None:
    return _FAIL.search(line)


def _join(items: Sequence[str], limit: int = 6) -> str:
    items = list(items)
    shown = items[:limit]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    if len(shown) == 1:
        return shown[0] + more
    return ", ".join(shown[:-1]) + (" and " if not more else ", ") + shown[-1] + more


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _lines(logs: str) -> list[str]:
    """The non-blank log lines, without Markdown code fences (LogLM wraps logs in them)."""
    return [ln for ln in logs.split("\n") if ln.strip() and not ln.strip().startswith("```")]


def _lower_first(text: str) -> str:
    """``text`` with its first letter lowered, unless it starts an acronym (``NTP``)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


OPTIONAL = "\x00"  # separates a step's core sentence from sentences dropped when too long


# -- log parsing ----------------------------------------------------------------------------
def variable_tokens(message: str, template: str) -> list[str]:
    """The values of ``message`` that ``template`` masks with ``<*>``, in order (a token-level
    alignment, robust to templates that do not reproduce the message exactly)."""
    mt, tt = message.split(), template.split()
    values: list[str] = []
    matcher = difflib.SequenceMatcher(None, mt, tt, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or not any("<*>" in t for t in tt[j1:j2]):
            continue
        if i2 - i1 == j2 - j1:
            for m, t in zip(mt[i1:i2], tt[j1:j2]):
                if "<*>" not in t:
                    continue
                pattern = "^" + "(.*?)".join(re.escape(p) for p in t.split("<*>")) + "$"
                found = re.match(pattern, m, re.DOTALL)
                parts = [g for g in found.groups() if g] if found else [m]
                values.extend(parts)
        elif i2 > i1:
            values.append(" ".join(mt[i1:i2]))
    return _unique(v for v in values if v)


def variable_kind(value: str) -> str:
    """What kind of variable a value is, in words (an ip address, a number, a path, ...)."""
    v = value.strip("()[]{},;'\"")
    if re.fullmatch(r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?", v):
        return "an ip address"
    if re.fullmatch(r"blk_-?\d+", v) or re.fullmatch(r"-?\d{15,}", v) and "blk_" in value:
        return "a block id"
    if re.fullmatch(r"-?\d+(?:\.\d+)?\s?(?:ms|us|ns|s|sec|secs|seconds?|min|mins|minutes?|h|hours?|"
                    r"days?|%|[KMGT]i?B|bytes?|[KMG]bps)", v):
        return "a duration or size"
    if re.fullmatch(r"[+-]?\d+(?:[.,]\d+)*", v):
        return "a number"
    if re.fullmatch(r"0x[0-9a-fA-F]+", v) or re.fullmatch(r"(?=.*\d)(?=.*[a-fA-F])[0-9a-fA-F]{6,}", v):
        return "a hex value"
    if "/" in v or "\\" in v:
        return "a path"
    if re.search(r"\d", v):
        return "an id"
    return "a name or value that changes between occurrences"


def _parsing_steps(sample: Sample) -> dict[str, str]:
    message, template = sample.logs.strip(), sample.reference
    tokens = message.split()
    values = variable_tokens(message, template)
    constants = [t for t in template.split() if "<*>" not in t]
    steps = {"overview": f"The {sample.domain} message has {len(tokens)} tokens and starts with "
                         f"`{tokens[0] if tokens else ''}`."}
    if values:
        kinds = [f"`{v}` ({variable_kind(v)})" for v in values]
        steps["variables"] = (f"The parts that change between occurrences are {_join(kinds, 8)}; "
                              "they carry instance data, not the event, so each becomes <*>.")
    else:
        steps["variables"] = ("No token carries instance data such as an address, a number or an "
                              "id, so nothing is masked.")
    if constants:
        steps["constants"] = (f"The words {_join([f'`{c}`' for c in _unique(constants)], 8)} "
                              "describe the event itself and stay as written.")
    else:
        steps["constants"] = "Every token is a value, so no constant word remains."
    multi = [v for v in values if " " in v]
    if multi:
        steps["merge"] = (f"The value {_join([f'`{v}`' for v in multi], 3)} spans several tokens "
                          "and is one variable, so it becomes a single <*>.")
    elif re.search(r"<\*>\s*<\*>", template):
        steps["merge"] = ("Some variables stand side by side but are separate values, so each "
                          "keeps its own <*>.")
    else:
        steps["merge"] = "No two variables stand side by side, so nothing needs merging."
    steps["conclude"] = f"Replacing the variables with <*> gives the template: {template}"
    return steps


# -- anomaly detection ----------------------------------------------------------------------
def _ad_steps(sample: Sample) -> dict[str, str]:
    catalogue = _catalogue_for(sample)
    lines = sample.logs.split("\n")
    labels = sample.facts.get("line_labels")
    line_level = "LAST line" in sample.instruction
    target = [len(lines) - 1] if line_level else list(range(len(lines)))
    label = sample.reference.strip().lower()
    steps: dict[str, str] = {}
    if line_level:
        steps["overview"] = (f"The question is about the last of {len(lines)} {sample.domain} lines; "
                             "the lines before it are context only.")
    elif len(lines) == 1:
        steps["overview"] = f"There is a single {sample.domain} line to judge: {_quote(lines[0])}."
    else:
        steps["overview"] = f"The {sample.domain} log has {len(lines)} lines to judge together."
    located = _unique(m.group(0) for i in target for m in _BGL_LOCATION.finditer(lines[i]))
    if located:
        steps["location"] = (f"The lines come from the hardware location(s) "
                             f"{_join([f'`{x}`' for x in located], 3)}.")
    else:
        steps["location"] = "The lines carry no rack or node location, so the message text decides."
    severities = Counter(m.group(1) for i in target for m in [_SEVERITY.search(lines[i])] if m)
    if severities:
        steps["severity"] = ("The severity fields read "
                             + _join([f"{n} × {s}" for s, n in sorted(severities.items())]) + ".")
    else:
        steps["severity"] = "There is no severity field, so the wording of the message decides."

    faulty: list[int] = []
    benign: list[int] = []
    if labels is not None:  # the simulator: the line labels say which lines report a fault
        faulty = [i for i in target if labels[i] != "normal"]
        benign = [i for i in target if labels[i] == "normal" and _fail_match(lines[i])]
    else:
        for i in target:
            if _fail_match(lines[i]):
                (benign if _BENIGN.search(lines[i]) else faulty).append(i)
        if label != "abnormal":  # the data marks these alarming-looking lines as routine
            benign, faulty = sorted(benign + faulty), []
    fault_titles = []
    if catalogue is not None:
        fault_titles = [catalogue.faults[f].title for f in sample.facts.get("faults", ())
                        if f in catalogue.faults]
    where = (lambda i: "the last line" if line_level else
             ("the line" if len(lines) == 1 else f"line {i + 1}"))
    if label == "abnormal":
        if faulty:
            i = faulty[0]
            m = _fail_match(lines[i])
            piece = _quote(lines[i], m.start() if m else None)
            more = f" ({len(faulty)} lines in all report trouble)" if len(faulty) > 1 else ""
            rule = (f"; the word `{m.group(0)}` states a failure that nothing resolves" if m and
                    not _BENIGN.search(lines[i]) else "; it reports a fault, not routine work")
            steps["scan"] = f"{where(i).capitalize()} reports {piece}{rule}{more}."
            if fault_titles and labels is not None:
                steps["scan"] += f" This is the pattern of a known fault: {fault_titles[0]}."
        else:
            i = target[-1]
            steps["scan"] = (f"No failure keyword stands out, so the content decides: "
                             f"{where(i)} reports {_quote(lines[i])}, which is not routine work.")
            steps.update(_hdfs_lifecycle(sample.logs))
    else:
        routine = next((i for i in reversed(target) if i not in benign), None)
        if routine is None:
            steps["scan"] = ("Every line in question carries an alarming word, so the meaning "
                             "decides, not the words.")
        else:
            line = lines[routine]
            steps["scan"] = ("No line in question states a failure that stops the work: the events "
                             f"are routine, such as {_quote(line, len(line) // 3, width=8)}.")
        if line_level and labels is not None and any(labels[i] != "normal" for i in range(len(lines) - 1)):
            steps["scan"] += " Earlier lines do report trouble, but they are context, not the line in question."
    if benign:
        i = benign[0]
        m = _fail_match(lines[i])
        recovery = _BENIGN.search(lines[i])
        why = (f"it says `{recovery.group(0)}`, so it was handled" if recovery else
               "it is a benign event the system handles by itself" if labels is not None else
               f"it is a recurring, routine {sample.domain} message, not a failure the system "
               "could not absorb")
        steps["benign"] = (f"{where(i).capitalize()} sounds alarming (`{m.group(0)}` in "
                           f"{_quote(lines[i], m.start(), 8)}), but {why}.")
    else:
        steps["benign"] = "No line uses alarming words for a handled or routine event."
    what = "the last line is" if line_level else ("the log is" if len(lines) > 1 else "the line is")
    steps["conclude"] = f"So {what} {label}."
    return steps


def _hdfs_lifecycle(logs: str) -> dict[str, str]:
    """For an HDFS block session without failure keywords: whether its write lifecycle is whole."""
    receiving = logs.count("Receiving block")
    received = logs.count("Received block")
    terminating = len(re.findall(r"PacketResponder \d+ for block \S+ terminating", logs))
    if receiving and (received != receiving or terminating != receiving):
        return {"benign": (f"The block's lifecycle is incomplete: {receiving} 'Receiving block' "
                           f"events but {received} 'Received block' and {terminating} "
                           "'PacketResponder … terminating' events.")}
    return {}


# -- the free-text tasks --------------------------------------------------------------------
# The reference texts the simulator's catalogue writes for each fault, and how a trajectory
# concludes on each; a simulated sample's facts["reference_field"] says which its reference is.
_REFERENCE_FIELDS = {"interpretation": "the logs show", "root_cause": "the root cause is",
                     "solution": "the fix addresses"}


@dataclass
class _FaultView:
    title: str
    category: str
    lines: list[int]
    entities: dict[str, str]
    root_cause: str | None
    solution: str | None
    interpretation: str | None
    answers: str | None = None  # the catalogue field the sample's reference is written from


def _event_regex(template) -> re.Pattern:
    parts, seen = [], set()
    pieces = list(template.pieces)
    for k, (literal, name) in enumerate(pieces):
        parts.append(re.escape(literal))
        if name is None:
            continue
        last = k == len(pieces) - 1 or (k == len(pieces) - 2 and not pieces[-1][0] and pieces[-1][1] is None)
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>\\S+)" if last else f"(?P<{name}>\\S+?)")
    lead = "(?<!\\S)" if pieces and not pieces[0][0] else ""
    return re.compile(lead + "".join(parts))


def _fault_views(sample: Sample, catalogue) -> list[_FaultView]:
    lines = _lines(sample.logs) or [sample.logs.strip()]
    views = []
    answers = sample.facts.get("reference_field")
    if answers not in _REFERENCE_FIELDS:
        answers = None
    for fault_id in sample.facts.get("faults", ()):
        fault = catalogue.faults.get(fault_id) if catalogue is not None else None
        if fault is None:
            continue
        hits, entities = [], {}
        for symptom in fault.symptoms + fault.cascade:
            regex = _event_regex(symptom.event.message)
            for i, line in enumerate(lines):
                m = regex.search(line)
                if m:
                    hits.append(i)
                    for k, v in m.groupdict().items():
                        if k in fault.entities or k in catalogue.families[fault.family].entities:
                            entities.setdefault(k, v)
        # Keep only captures confirmed by the sample's own reference: rendering the catalogue
        # text the reference is written from (the simulator says which) must give it back.
        own = getattr(fault, answers) if answers is not None else None
        confirmed: dict[str, str] = {}
        if own is not None and set(own.names) <= set(entities):
            try:
                if own.render(entities) == sample.reference:
                    confirmed = {k: entities[k] for k in own.names}
            except (KeyError, IndexError, ValueError):
                confirmed = {}
        entities = confirmed
        rendered = {}
        for key in ("root_cause", "solution", "interpretation"):
            template = getattr(fault, key)
            try:
                rendered[key] = template.render(entities) if set(template.names) <= set(entities) else None
            except (KeyError, IndexError, ValueError):
                rendered[key] = None
        views.append(_FaultView(fault.title, fault.category, sorted(set(hits)), entities, **rendered,
                                answers=answers))
    return views


def _components(text: str) -> list[str]:
    return _unique(m.group(0) for m in _COMPONENT.finditer(text))[:6]


def _first_sentence(text: str, words: int = 25) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    tokens = sentence.split()
    return " ".join(tokens[:words]) + (" …" if len(tokens) > words else "")


def _text_steps(sample: Sample) -> dict[str, str]:
    catalogue = _catalogue_for(sample)
    lines = _lines(sample.logs) or [sample.logs.strip()]
    views = _fault_views(sample, catalogue) if sample.facts.get("faults") else []
    key_facts = [f[0] for f in sample.facts.get("key_facts", ()) if f]
    error_lines = [i for i, ln in enumerate(lines) if _fail_match(ln)]
    steps: dict[str, str] = {}
    components = _components(sample.logs)
    comp_text = _join([f"`{c}`" for c in components], 6) if components else ""
    if views:  # the simulator: the scenario's own causal chain
        main = views[0]
        fault_lines = main.lines or error_lines
        first = fault_lines[0] if fault_lines else 0
        m = _fail_match(lines[first])
        piece = _quote(lines[first], m.start() if m else None)
        others = len(lines) - len(set(i for v in views for i in v.lines))
        steps["overview"] = (f"The {sample.domain} window has {len(lines)} lines; {len(main.lines)} of "
                             f"them belong to one problem and the other {others} are routine work or noise.")
        steps["evidence"] = f"The first line that reports trouble is line {first + 1}: {piece}."
        if len(fault_lines) > 1:
            last = fault_lines[-1]
            steps["evidence"] += f"{OPTIONAL}The last one is line {last + 1}: {_quote(lines[last], width=10)}."
        steps["components"] = (f"The values involved are {_join([f'`{v}`' for v in _unique(main.entities.values())], 5)}."
                               if main.entities else f"The component involved is the {sample.domain} service.")
        steps["meaning"] = (f"Taken together the lines show {_a(main.category)} problem: "
                            f"{main.title}.")
        steps["chain"] = (f"In order, the symptoms run from {piece} to the later errors; "
                          f"they are the effects of {_lower_first(main.title)}.")
        if main.answers == "interpretation" and main.root_cause:
            steps["chain"] += f"{OPTIONAL}Behind it: {main.root_cause}"
        steps["trigger"] = (f"The first alarm, {piece}, is the trigger that shows the failure; the "
                            f"real issue is the {main.category} problem behind it.")
        steps["cause"] = f"Among the common causes this one is {main.category}: {main.title}."
        if main.answers == "solution" and main.root_cause:
            steps["cause"] += f"{OPTIONAL}Concretely: {main.root_cause}"
        steps["why"] = (f"The immediate cause exists because of {_a(main.category)} condition that "
                        f"the symptom lines only report, not repair.")
        steps["check"] = (f"Nothing contradicts it: the other {others} lines are routine activity "
                          "or benign noise that no failure follows.")
        if len(views) > 1:
            steps["check"] += f" A second fault is present too: {views[1].title}."
        if key_facts:
            steps["facts"] = f"The concrete values that pin it down are {_join([f'`{f}`' for f in key_facts], 5)}."
        steps["fix"] = (f"The fix has to remove the {main.category} condition itself ({main.title}), "
                        f"not only silence lines like {piece}.")
        steps["verify"] = f"After the fix, lines like {piece} must stop and the routine events continue."
        steps["recurrence"] = (f"Clearing the symptom alone would let {piece} return; a lasting fix "
                               f"removes the {main.category} condition.")
        steps["risk"] = ("Each change touches a running service, so apply it in a quiet window and "
                         "check the logs after it.")
        noun = (_REFERENCE_FIELDS[main.answers] if main.answers is not None
                else f"the {TASKS[sample.task].answer_noun} is")
        facts = f", stated with {_join([f'`{f}`' for f in key_facts], 5)}" if key_facts else ""
        steps["conclude"] = f"So {noun} {_lower_first(main.title)}{facts}."
        return steps
    # real reports (LogLM): what the logs and the request themselves show
    request = sample.instruction.strip()
    problem = error_lines[0] if error_lines else 0
    m = _fail_match(lines[problem])
    piece = _quote(lines[problem], m.start() if m else None)
    steps["overview"] = (f"The request: {_quote(request, width=20)}." if request else "")
    steps["overview"] += f" The log holds {len(lines)} line(s), starting {_quote(lines[0])}."
    if error_lines:
        quoted = [f"line {i + 1}: {_quote(lines[i], _fail_match(lines[i]).start())}"
                  for i in error_lines[:3]]
        steps["evidence"] = f"The lines that report a problem are {_join(quoted, 3)}."
    else:
        steps["evidence"] = f"No line carries an explicit error word, so the entry itself needs explaining: {piece}."
    steps["components"] = (f"Named in the logs: {comp_text}." if components else
                           "The logs name no component explicitly; the request gives the setting.")
    steps["meaning"] = f"What matters is what {piece} means for the operation the request describes."
    steps["chain"] = (f"The events run from {_quote(lines[0], width=8)} to {_quote(lines[-1], width=8)}."
                      if len(lines) > 1 else "There is a single entry, so the chain comes from what it says and the request.")
    steps["trigger"] = f"The alarm itself is {piece}; the real issue is the condition that made it possible here."
    steps["cause"] = f"The cause has to explain why {piece} appears" + (f", looking at {comp_text}." if components else ".")
    steps["why"] = ("To see why the immediate cause existed, look at how "
                    + (comp_text if components else "the software") + " is set up and used here.")
    steps["check"] = f"The explanation must fit every quoted line, including {_quote(lines[-1], width=8)}."
    steps["facts"] = (f"The concrete evidence is {comp_text} and the message {piece}." if components
                      else f"The concrete evidence is the message {piece}.")
    steps["fix"] = f"The fix must act on the condition behind {piece}, not only hide the message."
    steps["verify"] = f"After the change, {piece} should no longer appear."
    steps["recurrence"] = f"A lasting fix changes the configuration or code behind {piece}, so it does not return."
    steps["risk"] = "Any change should be tried outside production first and rolled back if new errors appear."
    steps["conclude"] = f"Putting this together: {sample.reference}"
    return steps


# -- grounding per task kind ---------------------------------------------------------------
def _catalogue_for(sample: Sample):
    """The simulator's fault catalogue, for a sample whose facts name its faults; else ``None``."""
    if not sample.facts.get("faults"):
        return None
    from rlog_env.datasets.sim.catalogue import load_catalogue

    return load_catalogue()


def log_extras(sample: Sample) -> list[str]:
    """Further grounded sentences any sample offers (its lines, its request), used only when a
    reasoning is shorter than it must be: the default ``extras`` of a :class:`Grounding`."""
    lines = _lines(sample.logs)
    out = [f"Line {i + 1} reads {_quote(ln, width=30)}." for i, ln in enumerate(lines[:8])]
    if sample.instruction.strip():
        out.append(f"The request reads {_quote(sample.instruction, width=40)}.")
    return out


def _parsing_extras(sample: Sample) -> list[str]:
    tokens = sample.logs.split()
    return (["Token by token, the message reads " + " | ".join(f"`{t}`" for t in tokens[:40]) + "."]
            + log_extras(sample))


def _text_extras(sample: Sample) -> list[str]:
    out = log_extras(sample)
    for k, sentence in enumerate(re.split(r"(?<=[.!?])\s+", sample.reference.strip())):
        shared = [c for c in _unique(re.findall(r"[\w./:$-]{4,}", sentence))
                  if c in sample.logs or c in sample.instruction][:4]
        if shared:
            out.append(f"Point {k + 1} of the conclusion rests on {_join([f'`{c}`' for c in shared])}, "
                       "which the logs or the request show.")
    return out


@dataclass(frozen=True)
class Grounding:
    """How trajectories of one task kind are grounded in a sample.

    ``steps(sample)`` returns, per step action of the kind's strategies, the sentence(s) a
    trajectory writes at that step (sentences after an :data:`OPTIONAL` mark are dropped when
    the reasoning runs long; an action left out is skipped); the ``"conclude"`` sentence ends
    the reasoning. ``extras(sample)`` returns further grounded sentences, appended only while
    the reasoning is shorter than it must be.
    """

    kind: str
    steps: Callable[[Sample], Mapping[str, str]]
    extras: Callable[[Sample], Sequence[str]] = log_extras


def _check(kind: str, grounding: Grounding) -> None:
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind expects a non-empty str (a task kind), got {kind!r}")
    if not callable(grounding.steps) or not callable(grounding.extras):
        raise TypeError("register_grounding expects steps (and extras, if given) to be callables "
                        "taking a Sample")


GROUNDINGS: Registry = Registry("trajectory grounding for kind", _check,
                                "register one with rlog_env.datasets.reasoning.register_grounding")


def register_grounding(kind: str, steps: Callable[[Sample], Mapping[str, str]],
                       extras: Callable[[Sample], Sequence[str]] | None = None) -> Grounding:
    """Register how trajectories of tasks of ``kind`` are grounded (see :class:`Grounding`;
    ``extras`` defaults to :func:`log_extras`); a kind already registered is a ``ValueError``."""
    return GROUNDINGS.add(kind, Grounding(kind, steps, extras or log_extras))


def unregister_grounding(kind: str) -> None:
    """Remove the grounding of ``kind`` (the inverse of :func:`register_grounding`)."""
    GROUNDINGS.remove(kind)


def registered_grounding(kind: str, steps: Callable[[Sample], Mapping[str, str]],
                         extras: Callable[[Sample], Sequence[str]] | None = None):
    """A grounding registered for the duration of a ``with`` block (for tests)."""
    return GROUNDINGS.registered(kind, Grounding(kind, steps, extras or log_extras))


def grounding_for(task: str) -> Grounding:
    """The grounding of ``task``'s kind; a task whose kind has none is a ``ValueError``."""
    if task not in TASKS:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {task!r}")
    kind = TASKS[task].kind
    if kind not in GROUNDINGS:
        raise ValueError(f"no trajectory grounding for kind {kind!r} of task {task!r}; register one "
                         "with rlog_env.datasets.reasoning.register_grounding")
    return GROUNDINGS[kind]


def reasoning_tasks(source: str) -> tuple[str, ...]:
    """The tasks ``source`` serves that trajectories can be written for (their kind has a
    grounding and they have strategies), in registration order."""
    from rlog_env.datasets import SOURCES

    if source not in SOURCES:
        raise ValueError(f"source expects one of {', '.join(SOURCES)}, got {source!r}")
    spec = SOURCES[source]
    return tuple(task for task in TASKS if spec.serves(task) and TASKS[task].kind in GROUNDINGS
                 and has_strategies(task))


register_grounding(TEMPLATE, _parsing_steps, _parsing_extras)
register_grounding(LABEL, _ad_steps)
register_grounding(TEXT, _text_steps, _text_extras)


# -- building -------------------------------------------------------------------------------
def _index(sample: Sample) -> int:
    index = sample.meta.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"build_trajectory expects sample.meta['index'] (a non-negative int, set by "
                         f"every source), got {index!r}; load samples through load_source")
    return int(index)


def choose_strategy(sample: Sample, seed: int = 0) -> Strategy:
    """The strategy a sample's trajectory follows: drawn among those that apply, with the
    generator of ``SeedSequence([seed, index])``."""
    options = strategies_for(sample.task, sample.domain)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _index(sample)]))
    return options[int(rng.integers(len(options)))]


def build_trajectory(sample: Sample, strategy: Strategy | str | None = None, seed: int = 0) -> Trajectory:
    """The rule-based trajectory of ``sample``: the strategy's steps, each grounded in the
    sample, ending with the reference (``answer == sample.reference``).

    The sample is grounded by its task's kind (:func:`grounding_for`: a kind without one is a
    ``ValueError``). ``strategy`` (a :class:`Strategy` or its name) must be one of the sample's
    task; by default it is drawn with ``SeedSequence([seed, sample.meta["index"]])``. The
    reasoning has at least :data:`MIN_WORDS` words and at least twice the answer's words
    (R-Log-fast reaches its answer within a third of the think-first tokens); it aims at
    :data:`MAX_WORDS` words at most, which long real answers exceed.
    """
    if not isinstance(sample, Sample):
        raise TypeError(f"build_trajectory expects a Sample, got {type(sample).__name__}")
    grounding = grounding_for(sample.task)
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy expects one of {', '.join(STRATEGIES)}, got {strategy!r}")
        strategy = STRATEGIES[strategy]
    if strategy is None:
        strategy = choose_strategy(sample, seed)
    elif strategy.task != sample.task:
        raise ValueError(f"strategy expects one of task {sample.task!r}, got {strategy.name!r} "
                         f"(task {strategy.task!r}); see strategies_for()")
    if not sample.reference.strip():
        raise ValueError(f"build_trajectory expects a sample with a reference, got an empty one "
                         f"({sample.meta.get('id', '?')})")
    grounded = grounding.steps(sample)
    sentences, optional = [], []
    for text, action in zip(strategy.steps, strategy.actions):
        core, *more = [part.strip() for part in grounded.get(action, "").split(OPTIONAL)]
        if core:
            sentences.append(f"{text}: {core}" if action != "conclude" else core)
            optional.append(more)
    conclusion = sentences.pop() if strategy.actions[-1] == "conclude" else ""
    need = max(MIN_WORDS, 2 * _count(sample.reference))
    budget = max(MAX_WORDS, need)
    total = _count(" ".join(sentences + [conclusion]))
    for k, parts in enumerate(optional[:len(sentences)]):
        for part in parts:
            if part and total + _count(part) <= budget:
                sentences[k] += " " + part
                total += _count(part)
    used = set(sentences)
    for extra in grounding.extras(sample):
        if _count(" ".join(sentences + [conclusion])) >= need:
            break
        if extra not in used:
            sentences.append(extra)
            used.add(extra)
    reasoning = " ".join(sentences + [conclusion]).strip()
    meta = sample.meta
    return Trajectory(
        id=str(meta.get("id", f"{meta.get('source', '?')}/{sample.task}/{_index(sample)}")),
        task=sample.task, domain=sample.domain, source=str(meta.get("source", "")),
        split=str(meta.get("split", "")), strategy=strategy.name, reasoning=reasoning,
        answer=sample.reference, instruction=sample.instruction, logs=sample.logs,
        reference=sample.reference, facts=dict(sample.facts), origin=RULE)


def build_trajectories(samples: Sequence[Sample], seed: int = 0, teacher: Teacher | None = None,
                       threshold: float = 0.0, reasoning_format: str = THINK_FIRST,
                       reward: str = "rlog") -> list[Trajectory]:
    """Trajectories of ``samples``, in order.

    With a ``teacher`` (a callable taking the list of samples and returning one completion per
    sample, written in ``reasoning_format``), each teacher completion is scored by the task's
    own reward (``get_task(task, reasoning_format, reward).reward_for``) and kept when its total
    reward is at least ``threshold`` (rejection sampling); otherwise the rule-based trajectory
    is used. ``Trajectory.origin`` records which.
    """
    samples = list(samples)
    check_format(reasoning_format)
    rules = [build_trajectory(s, seed=seed) for s in samples]
    if teacher is None:
        return rules
    if reasoning_format == NO_TAGS:
        raise ValueError("reasoning_format expects 'think-first' or 'answer-first' with a teacher "
                         "(a trajectory needs the teacher's reasoning), got 'none'")
    completions = list(teacher(samples))
    if len(completions) != len(samples) or not all(isinstance(c, str) for c in completions):
        raise ValueError(f"teacher expects to return one completion string per sample "
                         f"({len(samples)}), got {len(completions)} item(s)")
    out = []
    tasks: dict[str, Any] = {}
    for sample, rule, completion in zip(samples, rules, completions):
        task = tasks.setdefault(sample.task, get_task(sample.task, reasoning_format, reward))
        parsed = parse_completion(completion, reasoning_format)
        score = task.reward_for(completion, sample).total
        if parsed.well_formed and parsed.answer and parsed.think and score >= threshold:
            out.append(replace(rule, strategy=TEACHER, reasoning=parsed.think, answer=parsed.answer,
                               origin=TEACHER))
        else:
            out.append(rule)
    return out


# -- writing a data set ---------------------------------------------------------------------
def card_of(trajectories: Sequence[Trajectory], source: str, split: str, seed: int,
            tasks: Sequence[str], episodes: int, threshold: float | None) -> dict[str, Any]:
    """The data set card: where it comes from and what it holds."""
    from rlog_env.datasets import SOURCES

    def counts(key) -> dict[str, int]:
        return dict(sorted(Counter(key(t) for t in trajectories).items()))

    words = [_count(t.reasoning) for t in trajectories]
    chars = [len(t.reasoning) for t in trajectories]
    per_task_words = {task: round(float(np.mean([_count(t.reasoning) for t in trajectories if t.task == task])), 1)
                      for task in tasks if any(t.task == task for t in trajectories)}
    spec = SOURCES.get(source)
    generated = spec is not None and not spec.needs_data
    licence = ("Simulated data generated by rlog_env (same licence as rlog_env)." if generated else
               f"Derived from the real data set {source!r}: it keeps that data set's own licence "
               "(see `rlog data download` for the licence and citation).")
    return {
        "format": "rlog-reasoning", "version": CARD_VERSION, "source": source, "split": split,
        "seed": seed, "tasks": list(tasks), "episodes_requested": episodes,
        "teacher_threshold": threshold, "total": len(trajectories),
        "per_task": counts(lambda t: t.task), "per_strategy": counts(lambda t: t.strategy),
        "per_domain": counts(lambda t: t.domain), "per_origin": counts(lambda t: t.origin),
        "reasoning_words_mean": round(float(np.mean(words)), 1) if words else 0.0,
        "reasoning_chars_mean": round(float(np.mean(chars)), 1) if chars else 0.0,
        "reasoning_words_mean_per_task": per_task_words,
        "files": [TRAJECTORIES_FILE, CARD_FILE, README_FILE], "licence": licence,
    }


def _readme(card: Mapping[str, Any]) -> str:
    def table(title: str, counts: Mapping[str, int]) -> str:
        rows = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
        return f"### {title}\n\n| | count |\n|---|---|\n{rows}\n"

    return (
        f"# Reasoning trajectories ({card['source']}, {card['split']})\n\n"
        "Cold-start data after R-Log: each record pairs a log-analysis sample with a reasoning "
        "text written from one of its task's reasoning strategies (rule-based, grounded in the "
        "sample) or by a teacher whose completion passed rejection sampling, and the answer. "
        "Each record holds `think_first` (`<think>…</think><answer>…</answer>`, R-Log) and "
        "`answer_first` (`<answer>…</answer><think>…</think>`, R-Log-fast) completions.\n\n"
        f"- source: `{card['source']}`, split: `{card['split']}`, seed: {card['seed']}\n"
        f"- trajectories: {card['total']}\n"
        f"- mean reasoning length: {card['reasoning_words_mean']} words, "
        f"{card['reasoning_chars_mean']} characters\n"
        f"- licence: {card['licence']}\n\n"
        + table("Per task", card["per_task"]) + "\n" + table("Per strategy", card["per_strategy"])
        + "\n" + table("Per domain", card["per_domain"]) + "\n" + table("Per origin", card["per_origin"])
    )


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir expects a directory, got the file {out}")
    if out.is_dir():
        # Temporary files of an interrupted earlier run are ours too (replaced on success).
        present = sorted(p.name for p in out.iterdir()
                         if not (p.name.startswith(".") and p.name.endswith(".tmp")))
        ours = {TRAJECTORIES_FILE, CARD_FILE, README_FILE}
        if present:
            card_ok = False
            if (out / CARD_FILE).is_file():
                try:
                    card_ok = json.loads((out / CARD_FILE).read_text("utf-8")).get("format") == "rlog-reasoning"
                except (json.JSONDecodeError, AttributeError):
                    card_ok = False
            if not card_ok or not set(present) <= ours:
                raise ValueError(f"out_dir expects an empty directory or an earlier reasoning data set, "
                                 f"got {out} holding {', '.join(present[:5])}; choose a new directory")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_reasoning_tasks(source: str, tasks: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """``tasks`` as a tuple, checked: each is registered, served by ``source``, grounded by its
    kind and has strategies (else a ``ValueError`` saying which); ``None``: the
    :func:`reasoning_tasks` of ``source``."""
    from rlog_env.datasets import SOURCES

    defaults = reasoning_tasks(source)
    if tasks is None:
        if not defaults:
            raise ValueError(f"source {source!r} serves no task that reasoning trajectories can be "
                             "written for (a task whose kind has a grounding and that has strategies)")
        return defaults
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if not tasks or unknown:
        raise ValueError(f"tasks expects some of {', '.join(TASKS)}, got {list(tasks)!r}")
    for task in tasks:
        if not SOURCES[source].serves(task):
            raise ValueError(f"source {source!r} has no {task} samples; it serves "
                             f"{', '.join(SOURCES[source].tasks)}")
        grounding_for(task)
        if not has_strategies(task):
            raise ValueError(f"task {task!r} has no reasoning strategies; register some with "
                             "rlog_env.tasks.strategies.register_strategy")
    return tasks


def write_reasoning_dataset(out_dir: os.PathLike | str, source: str = "sim",
                            tasks: Sequence[str] | None = None, split: str = "train",
                            episodes: int = 200, seed: int = 0, data_dir=None,
                            teacher: Teacher | None = None, threshold: float = 0.0,
                            reasoning_format: str = THINK_FIRST, **source_options) -> dict[str, Any]:
    """Write a reasoning data set into ``out_dir`` and return its card.

    Files: ``trajectories.jsonl`` (one record per trajectory, with ``think_first`` and
    ``answer_first`` completions), ``card.json`` and ``README.md`` (counts per task, strategy,
    domain and origin; mean reasoning length; licence). ``episodes`` samples per task (all of a
    finite split when it holds fewer). ``tasks`` defaults to every task ``source`` serves that
    trajectories can be written for (:func:`reasoning_tasks`); a named task the source does not
    serve, or whose kind has no grounding, or that has no strategies, is a ``ValueError``.
    Files are written to temporary names and renamed, so an interrupted run leaves no
    half-written file; a non-empty ``out_dir`` that is not an earlier reasoning data set is
    refused.
    """
    from rlog_env.datasets import load_source

    tasks = check_reasoning_tasks(source, tasks)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes expects a positive int, got {episodes!r}")
    out = Path(out_dir)
    _check_out_dir(out)
    trajectories: list[Trajectory] = []
    for task in tasks:
        samples_source = load_source(source, task, split=split, data_dir=data_dir, **source_options)
        n = min(episodes, len(samples_source))
        samples = [samples_source[i] for i in range(n)]
        trajectories.extend(build_trajectories(samples, seed=seed, teacher=teacher, threshold=threshold,
                                               reasoning_format=reasoning_format))
    card = card_of(trajectories, source, split, seed, tasks, episodes,
                   threshold if teacher is not None else None)
    out.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(t.as_record(), ensure_ascii=False, sort_keys=True) + "\n" for t in trajectories)
    _write_atomic(out / TRAJECTORIES_FILE, body)
    _write_atomic(out / README_FILE, _readme(card))
    _write_atomic(out / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return card


__all__ = ["GROUNDINGS", "OPTIONAL", "Grounding", "Trajectory", "build_trajectories", "build_trajectory",
           "card_of", "check_reasoning_tasks", "choose_strategy", "grounding_for", "log_extras",
           "reasoning_tasks", "register_grounding", "registered_grounding", "unregister_grounding",
           "variable_kind", "variable_tokens", "write_reasoning_dataset"]
