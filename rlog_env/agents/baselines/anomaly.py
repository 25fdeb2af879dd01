"""Anomaly detection by rules, in the spirit of R-Log's anomaly strategies.

Each line of the logs is checked three ways:

1. **Severities** — ``FATAL``, ``SEVERE``, ``CRITICAL``, ``FAILURE``, ``ERROR``, ``PANIC``,
   ``EMERG``, ``ALERT`` as a level field (upper case), Apache's ``[error]``/``[crit]``, klog's
   ``E``/``F`` prefixes, PostgreSQL's ``ERROR:``/``FATAL:``/``PANIC:``. ``WARN``/``WARNING``
   alone is not enough.
2. **Explicit failure words** — error, fail, exception, fatal, panic, refused, timeout, denied,
   killed, corrupt, unreachable, not found, lost, cannot, unable to, out of memory, no space
   left, deadlock, uncorrectable, ...; Java exception classes; a few facts of a system that mean
   trouble without a failure word (an HDFS block re-replicated because a replica is missing, a
   SCSI medium error, a machine check).
3. **Known-benign patterns** — messages that carry a failure word or an error level but describe
   routine operation: hardware errors that were *corrected* (ECC, parity), alignment and
   interrupt counters, lines of a machine-state dump, bad requests from web clients, clients
   that hang up, caches that recompute, tasks and containers stopped on purpose, kubelet's
   resolv.conf note, a readiness probe failing while its container starts, optimistic-update
   conflicts, a user's job naming a missing file. A line flagged by 1 or 2 that a benign
   pattern explains does not fire; the trace notes it.

The logs are abnormal when any line fires; a single line (BGL) and a window of lines (the
simulator, HDFS sessions) are judged the same way. The rules were written from knowledge of
the systems, not fitted: ``fit`` learns nothing and only counts the samples it is given. The
benign list was reviewed against false alarms on *training* splits only (the simulator's first
training episodes, LogHub BGL and LogLM train), never against a test split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline, check_tasks, clip, plural
from rlog_env.tasks import THINK_FIRST, Sample
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

TASK = "anomaly_detection"

# (name, pattern, why it is routine). Case-insensitive.
BENIGN_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("corrected hardware error",
     r"(?<!un)(?:detected and corrected|errors?(?:\(s\))? corrected|error corrected|attempting to correct"
     r"|corrected (?:error|ecc))",
     "a correctable error (ECC, parity) that the hardware fixed itself: counted, not failed"),
    ("alignment counter", r"\balignment exceptions\b",
     "a counter of alignment fix-ups done by the kernel, a performance note"),
    ("interrupt statistics", r"total interrupts|microseconds (?:total )?(?:max )?(?:time )?(?:spent )?(?:on|in) (?:a )?critical input interrupt",
     "interrupt statistics, a counter"),
    ("machine-state dump",
     r"\.{2,}\s*(?:0x)?[0-9a-f]+\b|\b(?:register|address)\s*:\s*0x[0-9a-f]+\s*$|\b[a-z]{1,5}\d{0,2}=0x[0-9a-f]{8}\b",
     "one line of a register/state dump that details another event"),
    ("status report without alerts", r"no alerts are active",
     "a status report that says no alert is active"),
    ("bad client request",
     r"\[client [^\]]*\] (?:File does not exist|Directory index forbidden|script not found or unable to stat"
     r"|request failed: error reading the headers|client sent HTTP/1\.1 request without hostname|Invalid URI)",
     "a web client asked for something missing or forbidden (404/403, scanners): the server is fine"),
    ("mod_jk child recycling", r"mod_jk child workerEnv in error state|jk2_init\(\) Can't find child|mod_jk child init \d+ -?\d+",
     "mod_jk/jk2 notes printed while Apache recycles its children, harmless"),
    ("client hung up",
     r"\bclient\b.*\breset by peer\b|can't get client address|unexpected EOF on client connection",
     "a client closed its connection abruptly; the server is unaffected"),
    ("autovacuum yielded", r"canceling autovacuum task",
     "autovacuum gives way to a conflicting lock and runs again later"),
    ("unique-key conflict", r"duplicate key value violates unique constraint",
     "an application insert that conflicts with a unique key, reported to the client"),
    ("resolv.conf nameserver limit", r"nameserver limits (?:were )?exceeded",
     "kubelet keeps the first three nameservers of resolv.conf and drops the rest, harmless"),
    ("image filesystem stats not ready", r"invalid capacity 0 on image filesystem",
     "kubelet's image filesystem stats are not ready yet at start-up"),
    ("readiness probe at start-up", r"readiness|/ready\b.*connection refused",
     "a readiness probe failing while its container starts; traffic waits, nothing restarts"),
    ("cache recompute", r"not found, computing it|already exists on this machine; not re-adding",
     "a cached partition is recomputed or already cached: normal caching"),
    ("task stopped by its scheduler", r"executor killed task|container killed by the applicationmaster",
     "the scheduler stops a task it no longer needs (speculation, job done)"),
    ("native library fallback", r"unable to load native-hadoop library",
     "Hadoop falls back to its Java classes, a start-up note"),
    ("HDFS read closed early", r"got exception while serving blk_",
     "a reader closed the stream before the whole block was sent; HDFS logs it on healthy clusters"),
    ("job launch user error",
     r"ciod: .*(?:no such file or directory|permission denied|missing or invalid fields|program image too big"
     r"|exceeds physical dimension)",
     "ciod reports a problem with the user's job (a missing path, a file it may not use, a bad map "
     "file, an oversized program): a user mistake, the machine is fine"),
    ("unknown container event", r"container complete event for unknown container",
     "the MapReduce AM hears again of a container it already released, a known harmless race"),
    ("update conflict", r"the object has been modified; please apply your changes",
     "an optimistic-concurrency conflict; the controller retries on the latest version"),
    ("graceful container stop", r"killing container with a grace period",
     "kubelet stops a container of a pod that was deleted or updated, gracefully"),
    ("logrotate exit status", r"logrotate: ALERT exited abnormally",
     "the daily logrotate cron job's exit-status note (a missing log file, typically); services are unaffected"),
    ("SCSI illegal request", r"sense key\s*=\s*0x0?5\b|illegal request.*sense key",
     "sense key 5 (ILLEGAL REQUEST): a device declines a command it does not support, a probe"),
    ("idle session closed", r"idle timeout",
     "a session closed for inactivity"),
    ("optional module missing", r"modprobe: can't locate module",
     "modprobe finds no module for an optional alias; start-up goes on"),
    ("mail delivery deferred", r"\(port 25\)|status=deferred|relay=none",
     "a remote mail server could not be reached; the mail queue retries later"),
)

# Severity fields (case-sensitive). WARN/WARNING are deliberately absent.
SEVERITY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("level field", r"\b(?:FATAL|SEVERE|CRITICAL|FAILURE|ERROR|PANIC|EMERG|EMERGENCY|ALERT)\b"),
    ("Apache level", r"\[(?:error|crit|alert|emerg)\]"),
    ("klog level", r"(?:^|\s)[EF]\d{4} \d{2}:\d{2}:\d{2}"),
)

# (name, pattern, what it means). Case-insensitive.
FAILURE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("failure word",
     r"\b(?:errors?|fail(?:s|ed|ure|ures|ing)?|exceptions?|fatal|panic|refused|time[d ]?out|timeouts?"
     r"|denied|killed|kill(?:ing)? (?:process|container)|corrupt\w*|unreachable|not found|abort\w*"
     r"|segmentation fault|segfault|out of memory|oom-killer|no space left|cannot|can't|can not|could not"
     r"|couldn't|unable to|lost|severed|deadlock|broken pipe|no route to host|not responding"
     r"|uncorrectable|non-recoverable|not accessible|deactivated|read-only|too many|insufficient"
     r"|blacklisted|backoff|crash\w*|terminated|invalid|bad|interrupted|not ready|not running"
     r"|unexpected|assert\w*|not fully functional|exceeds|exceeded|stopping execution|faults?|faulty)\b",
     "an explicit failure word"),
    ("Java exception", r"\b[A-Za-z.]*[a-z](?:Exception|Error)\b",
     "a Java exception or error class was raised"),
    ("SCSI medium or hardware error", r"sense key\s*=\s*0x0?[34]\b",
     "sense key 3 or 4: a medium or hardware error on the disk"),
    ("machine check", r"machine check interrupt",
     "the processor signalled a hardware error"),
    ("under-replicated block", r"\bask \S+ to replicate blk_",
     "the namenode re-replicates a block because one of its replicas is missing"),
    ("orphan block report", r"does not belong to any file|redundant addstoredblock request",
     "a datanode reports a block the namenode does not expect"),
)

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
    """Normal or abnormal by severities, failure words and known-benign patterns.

    Arguments:
        reasoning: the output format (``think-first``, ``answer-first`` or ``none``).
        name: the agent's name on the leaderboard.

    Fitted attributes: ``n_samples_seen_`` (the rules are fixed; nothing is learnt).
    """

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "rules"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "RuleAnomalyDetector":
        """Nothing to learn (the rules are written, not fitted); counts the samples, returns self."""
        self._check_params()
        self.n_samples_seen_ = sum(1 for s in samples if s.task == TASK)
        return self

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        check_tasks(self.name, observations, (TASK,))
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
