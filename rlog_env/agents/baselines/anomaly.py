"""Anomaly detection by rules, in the spirit of R-Log's anomaly strategies.

Each line is checked for an error-or-worse severity and for an explicit failure word (or a
system fact that means trouble); a line so flagged fires unless a known-benign pattern explains
it. The logs are abnormal when any line fires, and the trace says which lines fired and which
benign patterns were set aside. The rules come from :mod:`rlog_env.tasks.vocabulary`; they were
written from knowledge of the systems, not fitted, so ``fit`` learns nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline, check_kinds, clip, plural, task_kind
from rlog_env.tasks import LABEL, THINK_FIRST, Sample
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL
from rlog_env.tasks.vocabulary import BENIGN_PATTERNS, FAILURE_PATTERNS, SEVERITY_PATTERNS


def _lower_pattern(pattern: str) -> str:
    """``pattern`` with its literals lower-cased and its escapes (``\\S``, ``\\d``...) kept, to
    match lower-cased text without ``re.IGNORECASE`` (several times faster)."""
    out, escaped = [], False
    for char in pattern:
        out.append(char if escaped else char.lower())
        escaped = not escaped and char == "\\"
    return "".join(out)


# Case-insensitive groups are matched against the lower-cased line.
_BENIGN = tuple((n, re.compile(_lower_pattern(p)), w) for n, p, w in BENIGN_PATTERNS)
_SEVERITY = tuple((n, re.compile(p)) for n, p in SEVERITY_PATTERNS)
_FAILURE = tuple((n, re.compile(_lower_pattern(p)), w) for n, p, w in FAILURE_PATTERNS)


@dataclass(frozen=True)
class LineFinding:
    """Why one line fired (``rule``: severity or failure rule) or was let pass (benign)."""

    number: int  # 1-based
    line: str
    rule: str
    evidence: str
    why: str


@dataclass(frozen=True)
class Inspection:
    """The verdict on a log text: the lines that fired and the benign patterns noticed."""

    label: str
    lines: int
    fired: tuple[LineFinding, ...] = ()
    benign: tuple[LineFinding, ...] = field(default_factory=tuple)


def inspect_line(line: str, number: int = 1) -> tuple[LineFinding | None, LineFinding | None]:
    """``(fired, benign)`` for one line: at most one of them is set.

    A line fires on a severity or a failure rule, unless a known-benign pattern explains it.
    """
    low = line.lower()
    same = len(low) == len(line)  # lower() kept every position: quote the original text
    hit = None
    for name, regex in _SEVERITY:
        match = regex.search(line)
        if match:
            hit = LineFinding(number, line, f"severity ({name})", match.group(0).strip(),
                              "an error-or-worse severity")
            break
    if hit is None:
        for name, regex, why in _FAILURE:
            match = regex.search(low)
            if match:
                evidence = line[match.start():match.end()] if same else match.group(0)
                hit = LineFinding(number, line, name, evidence, why)
                break
    if hit is None:
        return None, None
    for name, regex, why in _BENIGN:
        match = regex.search(low)
        if match:
            evidence = line[match.start():match.end()] if same else match.group(0)
            return None, LineFinding(number, line, name, evidence, why)
    return hit, None


def inspect_logs(logs: str) -> Inspection:
    """Check every non-blank line of ``logs``; abnormal when any line fires."""
    fired, benign = [], []
    count = 0
    for number, line in enumerate(logs.split("\n"), 1):
        if not line.strip():
            continue
        count += 1
        hit, ok = inspect_line(line, number)
        if hit is not None:
            fired.append(hit)
        elif ok is not None:
            benign.append(ok)
    return Inspection(ABNORMAL if fired else NORMAL, count, tuple(fired), tuple(benign))


class RuleAnomalyDetector(Baseline):
    """Normal or abnormal by severities, failure words and known-benign patterns (tasks of
    kind ``label`` whose labels are ``normal``/``abnormal``).

    Arguments:
        reasoning: the output format (``think-first``, ``answer-first`` or ``none``).
        name: the agent's name on the leaderboard.

    Fitted attributes: ``n_samples_seen_`` (the rules are fixed; nothing is learnt).
    """

    kind: ClassVar[str] = LABEL

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "rules"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "RuleAnomalyDetector":
        """Nothing to learn (the rules are written, not fitted); counts the samples, returns self."""
        self._check_params()
        self.n_samples_seen_ = sum(1 for s in samples if task_kind(s.task) == self.kind)
        return self

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        check_kinds(self.name, observations, (self.kind,))
        answers = []
        for observation in observations:
            result = inspect_logs(observation.logs)
            answers.append(self._complete(result.label, _trace(result, observation.logs)))
        return answers


_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|FAILURE|CRITICAL"
                    r"|PANIC|LOG)\b|\[(debug|info|notice|warn|error|crit|alert|emerg)\]|^([IWEF])\d{4} ")
_KLOG = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL"}


def _overview(logs: str) -> str:
    """What the logs are: their levels and commonest message pattern, for the trace."""
    from rlog_env.agents.baselines.parsing import mask_message  # pure Python, no drain3

    lines = [line for line in logs.split("\n") if line.strip()]
    levels: dict[str, int] = {}
    patterns: dict[str, int] = {}
    for line in lines:
        match = _LEVEL.search(line)
        if match:
            level = match.group(1) or (match.group(2) or "").upper() or _KLOG[match.group(3)]
            levels[level] = levels.get(level, 0) + 1
        key = mask_message(line.strip())[0]
        patterns[key] = patterns.get(key, 0) + 1
    level_text = ", ".join(f"{k}×{v}" for k, v in sorted(levels.items(), key=lambda kv: (-kv[1], kv[0])))
    level_text = f"levels {level_text}" if level_text else "no level field"
    if len(lines) == 1:
        return f"Overview: one line ({level_text}): \"{clip(lines[0])}\"."
    common, count = min(patterns.items(), key=lambda kv: (-kv[1], kv[0])) if patterns else ("", 0)
    example = next(line for line in lines if mask_message(line.strip())[0] == common) if common else ""
    return (f"Overview: {plural(len(lines), 'line')} ({level_text}), "
            f"{plural(len(patterns), 'distinct message pattern')}; the commonest (×{count}) reads "
            f"\"{clip(example, 120)}\".")


def _trace(result: Inspection, logs: str) -> str:
    steps = [_overview(logs),
             f"Strategy: look for explicit failure words and error-or-worse severities in each of "
             f"the {plural(result.lines, 'line')}, then set aside known-benign patterns; the logs are "
             "abnormal if any line still signals a failure."]
    if result.fired:
        steps.append(f"Lines that signal a failure ({len(result.fired)}):")
        for f in result.fired[:5]:
            steps.append(f"- line {f.number}: \"{clip(f.line)}\" — {f.rule}: '{f.evidence}' ({f.why}).")
        if len(result.fired) > 5:
            steps.append(f"- and {plural(len(result.fired) - 5, 'more line')}.")
    else:
        steps.append("No line carries a failure word or an error-or-worse severity once benign "
                     "patterns are set aside.")
    if result.benign:
        steps.append("Known-benign patterns noticed:")
        shown: dict[str, LineFinding] = {}
        counts: dict[str, int] = {}
        for b in result.benign:
            shown.setdefault(b.rule, b)
            counts[b.rule] = counts.get(b.rule, 0) + 1
        for rule, b in list(shown.items())[:5]:
            times = f" (×{counts[rule]})" if counts[rule] > 1 else ""
            steps.append(f"- line {b.number}{times}: \"{clip(b.line, 120)}\" — {rule}: {b.why}.")
    if result.label == ABNORMAL:
        steps.append("Conclusion: at least one line reports a real failure, so the logs are abnormal.")
    else:
        steps.append("Conclusion: only routine activity" + (" and benign noise" if result.benign else "")
                     + ", so the logs are normal.")
    return "\n".join(steps)
