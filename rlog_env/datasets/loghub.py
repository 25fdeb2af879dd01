"""LogHub 2k samples: log parsing on every system present, anomaly detection on BGL lines.

Layout (as in shared/data): ``loghub/<S>/<S>_2k.log_structured.csv`` (raw messages and the
original templates), ``loghub/BGL/BGL_2k.log`` (raw BGL lines, label first), and the corrected
ground truth in ``loghub2_2k_corrected/<S>/<S>_2k.log_structured_corrected.csv`` (Loghub-2.0,
the default) or, for systems Loghub-2.0 lacks (Android, Windows),
``loghub_2k_corrected/<S>/...`` (Khan et al.). Rows align by ``LineId``.

LogHub repeats lines heavily (Linux has 290 distinct messages in 2,000), so a sample is one
distinct message of one system; ``meta["occurrences"]`` says how often it occurs. Splits are by
message content. For anomaly detection the observation is the raw BGL line with its first
token — the alert label — removed: the label never reaches the agent.

The files are checked as they are read: every structured CSV numbers its rows ``LineId`` 1, 2,
3, ... in order; the ground-truth file has exactly the rows of the structured file (the shorter
of the two is reported as cut short), each with a non-empty ``EventTemplate``; a BGL ``Label``
is ``-`` or an alert category in capitals (``KERNDTLB``), and the raw BGL log has one line per
row, starting with that label.

Ground truth is normalised by one rule (:func:`reference_template`): a template is the
reference as written where it matches its message; where it does not, each placeholder other
than ``<*>`` in it (a ``<NAME>`` token such as ``<NUM>``) that the message does not contain is
rewritten to ``<*>``, if the template then matches. Mac's ``sts:<NUM>_rsn:<NUM>`` (20 lines, in
``loghub/`` and ``loghub2_2k_corrected/``) becomes ``sts:<*>_rsn:<*>``; HPC's ``<ok>``, which
its messages contain, stays.

**Protocols.** ``protocol="within"`` (the default) fits and evaluates on every system: each
system's messages are divided between ``train`` and ``test`` by content, so no system is ever
unseen. ``protocol="unseen"`` is a fixed leave-systems-out split of LogHub's 16 systems: the
systems in :data:`HELD_OUT` have no ``train`` samples (an agent never fits on them), while
``test`` keeps every system's test samples, the same ones as under ``"within"``, each with
``facts["unseen"]`` saying whether its system is held out, so results break down into seen and
unseen rows as on the simulator. A held-out system missing from the data directory is reported by
:func:`absent_systems`, never an error: the split does not depend on what the directory holds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from rlog_env.datasets.base import TRAIN, DataError, content_split, is_present, read_csv, read_lines
from rlog_env.tasks import Sample
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL
from rlog_env.tasks.parsing_metric import VARIABLE, match_variables

NAME = "loghub"
TASKS = ("log_parsing", "anomaly_detection")
GROUND_TRUTHS = ("corrected", "original")
_CORRECTED_DIRS = ("loghub2_2k_corrected", "loghub_2k_corrected")
AD_SYSTEM = "BGL"

# The 16 systems of LogHub's 2k samples and their kinds (Zhu et al., ISSRE 2023, Table 1).
SYSTEM_KINDS = {
    "HDFS": "distributed system", "Hadoop": "distributed system", "Spark": "distributed system",
    "Zookeeper": "distributed system", "OpenStack": "distributed system",
    "BGL": "supercomputer", "HPC": "supercomputer", "Thunderbird": "supercomputer",
    "Windows": "operating system", "Linux": "operating system", "Mac": "operating system",
    "Android": "mobile system", "HealthApp": "mobile system",
    "Apache": "server application", "OpenSSH": "server application",
    "Proxifier": "standalone software",
}
WITHIN, UNSEEN = "within", "unseen"
PROTOCOLS = (WITHIN, UNSEEN)
# The systems protocol "unseen" holds out: a quarter of the 16, one of each of four kinds, each
# kind keeping seen systems (Zookeeper: HDFS, Hadoop, Spark, OpenStack; Thunderbird: BGL, HPC;
# Windows: Linux, Mac; Android: HealthApp), so an unseen row asks for a new system of a known
# kind, as R-Log's unseen systems do. Not BGL, which anomaly detection needs; not a system the
# simulator's seen families model (Zookeeper is its held-out family). Every LogLM parsing input is
# a LogHub message, Zookeeper's too (KNOWN_OVERLAPS): a model trained on LogLM has read Zookeeper.
# Fixed: it never depends on the data directory; changing it changes every unseen result.
HELD_OUT = ("Android", "Thunderbird", "Windows", "Zookeeper")


def systems(root: Path) -> tuple[str, ...]:
    """The LogHub systems present under ``root/loghub`` (those with a structured 2k file; a
    dangling link in its place counts as present, so that it is reported, not skipped)."""
    base = root / "loghub"
    if not base.is_dir():
        raise DataError(base, "directory not found; expected loghub/<System>/<System>_2k.log_structured.csv "
                              "(point data_dir or RLOG_DATA_DIR at a folder laid out like shared/data)")
    found = tuple(sorted(p.name for p in base.iterdir()
                         if is_present(p / f"{p.name}_2k.log_structured.csv")))
    if not found:
        raise DataError(base, "no system found; expected loghub/<System>/<System>_2k.log_structured.csv")
    return found


def ground_truth_file(root: Path, system: str, ground_truth: str) -> Path:
    """The structured CSV holding ``system``'s templates under ``ground_truth``."""
    if ground_truth == "original":
        return root / "loghub" / system / f"{system}_2k.log_structured.csv"
    candidates = [root / d / system / f"{system}_2k.log_structured_corrected.csv" for d in _CORRECTED_DIRS]
    for path in candidates:
        if is_present(path):
            return path
    raise DataError(candidates[0], f"no corrected templates for {system}: expected this file or "
                                   f"{candidates[1]} (or pass ground_truth='original')")


def _check_line_id(path: Path, line: int, row: dict[str, str]) -> None:
    """LogHub structured rows are numbered ``LineId`` 1, 2, 3, ... in order, one per line of the
    raw 2k log; the row on ``line`` (after the header) must carry ``line - 1``. Callers test the
    common case, ``row["LineId"] == str(line - 1)``, inline and call this only when it fails."""
    if row["LineId"] == "LineId":
        raise DataError(path, f"the header row repeats here; expected the row of LineId {line - 1} (two "
                              "files joined into one?)", line=line)
    if _line_id(path, line, row) != line - 1:
        raise DataError(path, f"expected LineId {line - 1} (rows numbered 1, 2, 3, ... in order, one per "
                              f"line of the raw log), found {row['LineId']!r}", line=line)


def _line_id(path: Path, line: int, row: dict[str, str]) -> int:
    try:
        return int(row["LineId"])
    except ValueError:
        raise DataError(path, f"expected an integer LineId, found {row['LineId']!r}", line=line) from None


def _messages(root: Path, system: str) -> tuple[Path, list[str]]:
    """The structured file of ``system`` and its ``Content`` column (LineId ``i`` at ``i - 1``)."""
    path = root / "loghub" / system / f"{system}_2k.log_structured.csv"
    contents = []
    for line, row in read_csv(path, root, ("LineId", "Content")):
        if row["LineId"] != str(line - 1):
            _check_line_id(path, line, row)
        contents.append(row["Content"])
    return path, contents


def _cut_short(path: Path, count: int, unit: str, other: Path, line_id: int, line: int) -> DataError:
    """The error for a file that ends before the file it aligns with: truncation is far likelier
    than rows added, so the shorter file is the one named."""
    return DataError(path, f"ends after {count} {unit}, but {other.name} goes on to LineId {line_id}; "
                           "expected the same LineIds 1, 2, 3, ... in both (this file looks cut short)", line=line)


# A placeholder other than <*>, as some LogHub files write a variable (Mac: sts:<NUM>_rsn:<NUM>).
PLACEHOLDER = re.compile(r"<[A-Za-z_]+>")


def reference_template(template: str, message: str) -> str:
    """``template`` as the reference template of ``message``.

    As written where it matches ``message`` (:func:`~rlog_env.tasks.parsing_metric.match_variables`,
    the scorer's own matching), every ``<NAME>`` token taken literally: HPC's ``<ok>`` is in its
    messages. Where it does not match, each placeholder other than ``<*>`` — a ``<NAME>`` token
    such as ``<NUM>`` — that the message does not contain becomes ``<*>``, if the template then
    matches; a template that matches neither way is kept as written.
    """
    if PLACEHOLDER.search(template) is None or match_variables(template, message) is not None:
        return template
    rewritten = PLACEHOLDER.sub(lambda m: m.group() if m.group() in message else VARIABLE, template)
    return rewritten if match_variables(rewritten, message) is not None else template


@lru_cache(maxsize=None)
def parsing_samples(root: Path, ground_truth: str) -> tuple[Sample, ...]:
    """One log-parsing sample per distinct message of every system, with its split set and its
    template normalised by :func:`reference_template`."""
    samples = []
    for system in systems(root):
        structured, messages = _messages(root, system)
        path = ground_truth_file(root, system, ground_truth)
        first_line: dict[str, int] = {}
        templates: dict[str, Counter] = {}
        rows = 0
        for line, row in read_csv(path, root, ("LineId", "EventTemplate")):
            rows += 1
            if row["LineId"] != str(rows):
                _check_line_id(path, line, row)
            if rows > len(messages):
                raise _cut_short(structured, len(messages), "rows", path, rows, len(messages) + 2)
            if not row["EventTemplate"].strip():
                raise DataError(path, "empty EventTemplate; expected the template of the message "
                                      f"(LineId {rows})", line=line)
            content = messages[rows - 1]
            first_line.setdefault(content, rows)
            templates.setdefault(content, Counter())[row["EventTemplate"]] += 1
        if rows < len(messages):
            raise _cut_short(path, rows, "rows", structured, len(messages), rows + 2)
        for content, line_id in first_line.items():
            # A message has one template in every shipped file; take the commonest if not.
            template = reference_template(templates[content].most_common(1)[0][0], content)
            samples.append(Sample(
                task="log_parsing", domain=system, logs=content, reference=template,
                meta={"source": NAME, "split": content_split(content), "system": system,
                      "id": f"{NAME}/{system}/{line_id}", "line_id": line_id,
                      "occurrences": sum(templates[content].values()),
                      "ground_truth": path.parent.parent.name},
            ))
    return tuple(samples)


# A BGL alert label: "-" for a normal line, else an alert category such as KERNDTLB or APPSEV.
ALERT_CATEGORY = re.compile(r"[A-Z][A-Z0-9_]*")


@lru_cache(maxsize=None)
def anomaly_samples(root: Path) -> tuple[Sample, ...]:
    """One anomaly-detection sample per distinct BGL message, labelled from the raw line."""
    system = AD_SYSTEM
    structured = root / "loghub" / system / f"{system}_2k.log_structured.csv"
    raw_path = root / "loghub" / system / f"{system}_2k.log"
    raw_lines = read_lines(raw_path, root, "a raw BGL log line (alert label first)")
    seen: dict[str, Sample] = {}
    counts: Counter = Counter()
    line_id = 0
    for line, row in read_csv(structured, root, ("LineId", "Label", "Content")):
        line_id += 1
        if row["LineId"] != str(line_id):
            _check_line_id(structured, line, row)
        label = row["Label"]
        if label != "-" and not ALERT_CATEGORY.fullmatch(label):
            raise DataError(structured, f"expected the Label '-' (normal) or an alert category in capitals "
                                        f"such as KERNDTLB, found {label!r}", line=line)
        if line_id > len(raw_lines):
            raise _cut_short(raw_path, len(raw_lines), "lines", structured, line_id, len(raw_lines) + 1)
        label_token, _, rest = raw_lines[line_id - 1].partition(" ")
        if label_token != label:
            raise DataError(raw_path, f"expected the label {label!r} (from {structured.name}) "
                                      f"as the first token, found {label_token!r}", line=line_id)
        content = row["Content"]
        counts[content] += 1
        if content not in seen:
            seen[content] = Sample(
                task="anomaly_detection", domain=system, logs=rest,
                reference=NORMAL if label == "-" else ABNORMAL,
                meta={"source": NAME, "split": content_split(content), "system": system,
                      "id": f"{NAME}/{system}/{line_id}", "line_id": line_id},
            )
    if len(raw_lines) != line_id:
        raise DataError(raw_path, f"has {len(raw_lines)} lines; expected {line_id}, one per row of "
                                  f"{structured.name}", line=line_id + 1)
    return tuple(
        Sample(s.task, s.domain, s.logs, s.reference, meta={**s.meta, "occurrences": counts[c]})
        for c, s in seen.items()
    )


def load_samples(root: Path, task: str, ground_truth: str = "corrected",
                 protocol: str = WITHIN) -> tuple[Sample, ...]:
    """All LogHub samples of ``task``, each with ``meta["split"]`` set, under ``protocol``."""
    if ground_truth not in GROUND_TRUTHS:
        raise ValueError(f"ground_truth expects 'corrected' or 'original', got {ground_truth!r}")
    check_protocol(protocol)
    if task == "log_parsing":
        samples = parsing_samples(root, ground_truth)
    else:
        samples = anomaly_samples(root)
    return samples if protocol == WITHIN else _leave_systems_out(samples)


def check_protocol(protocol: str) -> str:
    """``protocol`` if it is one of :data:`PROTOCOLS`, else a ``ValueError`` naming them."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol expects one of {', '.join(map(repr, PROTOCOLS))} ('within': every "
                         f"system fitted and evaluated; 'unseen': {', '.join(HELD_OUT)} held out of "
                         f"fitting), got {protocol!r}")
    return protocol


def _leave_systems_out(samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
    """Protocol ``unseen``: no train sample of a held-out system; every sample says whether its
    system is held out (``facts["unseen"]``)."""
    return tuple(replace(s, facts={**s.facts, "unseen": s.domain in HELD_OUT}) for s in samples
                 if not (s.domain in HELD_OUT and s.meta["split"] == TRAIN))


def absent_systems(root: Path, task: str, protocol: str = WITHIN, **options) -> tuple[str, ...]:
    """The held-out systems of ``protocol`` that ``task`` could have but the data directory lacks
    (reported beside the unseen rows: they cover only the held-out systems present)."""
    if protocol != UNSEEN or task != "log_parsing":  # anomaly detection has BGL alone, never held out
        return ()
    present = systems(root)
    return tuple(s for s in HELD_OUT if s not in present)


def clear_cache() -> None:
    """Forget every file this module has read (the sources call it when a load fails)."""
    for cached in (parsing_samples, anomaly_samples):
        cached.cache_clear()


def domains(root: Path, task: str) -> tuple[str, ...]:
    """The systems a LogHub task can be restricted to."""
    return systems(root) if task == "log_parsing" else (AD_SYSTEM,)


LOGHUB2_CORRECTED = _CORRECTED_DIRS[0]  # Loghub-2.0's corrected ground truth (Jiang et al., ISSTA'24)


def corrected_by_loghub2(root: Path, system: str) -> bool:
    """Whether ``system`` has Loghub-2.0's corrected ground truth (not only Khan et al.'s)."""
    return is_present(root / LOGHUB2_CORRECTED / system / f"{system}_2k.log_structured_corrected.csv")


def system_lines(root: Path, system: str, ground_truth: str) -> tuple[list[str], list[str], list[str]]:
    """Every line of ``system``'s 2k sample in ``LineId`` order, as logpai's benchmarks score it:
    the messages (``Content``), their ``EventId`` and their ``EventTemplate`` under
    ``ground_truth``, exactly as the files hold them (duplicates kept, nothing normalised).

    The files are checked as :func:`parsing_samples` checks them (LineIds in order, the same rows
    in both files, no empty template).
    """
    if ground_truth not in GROUND_TRUTHS:
        raise ValueError(f"ground_truth expects 'corrected' or 'original', got {ground_truth!r}")
    structured, messages = _messages(root, system)
    path = ground_truth_file(root, system, ground_truth)
    event_ids: list[str] = []
    templates: list[str] = []
    for line, row in read_csv(path, root, ("LineId", "EventId", "EventTemplate")):
        rows = len(templates) + 1
        if row["LineId"] != str(rows):
            _check_line_id(path, line, row)
        if rows > len(messages):
            raise _cut_short(structured, len(messages), "rows", path, rows, len(messages) + 2)
        if not row["EventTemplate"].strip():
            raise DataError(path, f"empty EventTemplate; expected the template of the message (LineId {rows})",
                            line=line)
        event_ids.append(row["EventId"])
        templates.append(row["EventTemplate"])
    if len(templates) < len(messages):
        raise _cut_short(path, len(templates), "rows", structured, len(messages), len(templates) + 2)
    return messages, event_ids, templates
