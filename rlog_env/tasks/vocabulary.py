"""The wording of failures in logs: what says a line reports trouble, and what says it is routine.

The one home of these words and patterns. The rule-based anomaly detector
(:mod:`rlog_env.agents.baselines.anomaly`) builds its rules from the tables; the reasoning
trajectories (:mod:`rlog_env.datasets.reasoning`) find a line's alarming word and its recovery
word with the regexes at the end, compiled from the same lists. Plain data and :mod:`re`;
patterns of the case-insensitive tables are written in lower case.
"""

from __future__ import annotations

import re

# Severity fields that mean error or worse (case-sensitive). WARN/WARNING are deliberately absent.
SEVERITY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("level field", r"\b(?:FATAL|SEVERE|CRITICAL|FAILURE|ERROR|PANIC|EMERG|EMERGENCY|ALERT)\b"),
    ("Apache level", r"\[(?:error|crit|alert|emerg)\]"),
    ("klog level", r"(?:^|\s)[EF]\d{4} \d{2}:\d{2}:\d{2}"),
)

# Words (regular-expression alternatives, lower case) that state a failure outright.
FAILURE_TERMS: tuple[str, ...] = (
    r"errors?", r"fail(?:s|ed|ure|ures|ing)?", r"exceptions?", r"fatal", r"panic", r"refused",
    r"time[d ]?out", r"timeouts?", r"denied", r"killed", r"kill(?:ing)? (?:process|container)",
    r"corrupt\w*", r"unreachable", r"not found", r"abort\w*", r"segmentation fault", r"segfault",
    r"out of memory", r"oom-killer", r"no space left", r"cannot", r"can't", r"can not",
    r"could not", r"couldn't", r"unable to", r"lost", r"severed", r"deadlock", r"broken pipe",
    r"no route to host", r"not responding", r"uncorrectable", r"non-recoverable", r"not accessible",
    r"deactivated", r"read-only", r"too many", r"insufficient", r"blacklisted", r"backoff",
    r"crash\w*", r"terminated", r"invalid", r"bad", r"interrupted", r"not ready", r"not running",
    r"unexpected", r"assert\w*", r"not fully functional", r"exceeds", r"exceeded",
    r"stopping execution", r"faults?", r"faulty",
)

# Words (regular-expression alternatives, lower case) that sound alarming without stating a
# failure: a warning, a "critical" or "down" state, something missing or rejected. The detector
# does not fire on them (a WARN line alone is not an anomaly); trajectories cite them as alarming.
ALARM_TERMS: tuple[str, ...] = (
    r"warn\w*", r"critical", r"severe", r"down", r"unavailable", r"missing", r"disconnect\w*",
    r"rejected", r"stale", r"violation", r"overflow", r"illegal", r"no such", r"oom",
)

# A Java-style exception or error class name (``IOException``, ``OutOfMemoryError``).
EXCEPTION_CLASS = r"\b[A-Za-z.]*[a-z](?:Exception|Error)\b"

# Words (regular-expression alternatives, lower case) that say a failure was handled.
RECOVERY_TERMS: tuple[str, ...] = (
    r"corrected", r"recovered", r"resolved", r"succeeded", r"successful\w*", r"retry\w*",
    r"retrying", r"restored",
)


def words_pattern(terms: tuple[str, ...]) -> str:
    """One regular expression matching any of ``terms`` as whole words."""
    return r"\b(?:" + "|".join(terms) + r")\b"


# (name, pattern, what it means). Case-insensitive.
FAILURE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("failure word", words_pattern(FAILURE_TERMS), "an explicit failure word"),
    ("Java exception", EXCEPTION_CLASS, "a Java exception or error class was raised"),
    ("SCSI medium or hardware error", r"sense key\s*=\s*0x0?[34]\b",
     "sense key 3 or 4: a medium or hardware error on the disk"),
    ("machine check", r"machine check interrupt",
     "the processor signalled a hardware error"),
    ("under-replicated block", r"\bask \S+ to replicate blk_",
     "the namenode re-replicates a block because one of its replicas is missing"),
    ("orphan block report", r"does not belong to any file|redundant addstoredblock request",
     "a datanode reports a block the namenode does not expect"),
)

# Messages that carry a failure word or an error level but describe routine operation:
# (name, pattern, why it is routine). Case-insensitive. Reviewed against false alarms on
# training splits only, never on a test split.
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

# Searched in a line of any case; ``match.group(0)`` is the word as written.
# A word that states a failure, or an exception class.
FAILURE_WORDS = re.compile(words_pattern(FAILURE_TERMS) + "|" + EXCEPTION_CLASS, re.IGNORECASE)
# A word that states a failure or sounds alarming, or an exception class.
ALARMING_WORDS = re.compile(words_pattern(FAILURE_TERMS + ALARM_TERMS) + "|" + EXCEPTION_CLASS,
                            re.IGNORECASE)
# A word saying that a failure was handled (corrected, recovered, retried...), any case.
BENIGN_WORDS = re.compile(words_pattern(RECOVERY_TERMS), re.IGNORECASE)

__all__ = [
    "ALARMING_WORDS", "ALARM_TERMS", "BENIGN_PATTERNS", "BENIGN_WORDS", "EXCEPTION_CLASS",
    "FAILURE_PATTERNS", "FAILURE_TERMS", "FAILURE_WORDS", "RECOVERY_TERMS", "SEVERITY_PATTERNS",
    "words_pattern",
]
