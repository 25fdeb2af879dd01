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
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

from rlog_env.datasets.base import DataError, content_split, read_csv, read_text
from rlog_env.tasks import Sample
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

NAME = "loghub"
TASKS = ("log_parsing", "anomaly_detection")
GROUND_TRUTHS = ("corrected", "original")
_CORRECTED_DIRS = ("loghub2_2k_corrected", "loghub_2k_corrected")
AD_SYSTEM = "BGL"


def systems(root: Path) -> tuple[str, ...]:
    """The LogHub systems present under ``root/loghub`` (those with a structured 2k file)."""
    base = root / "loghub"
    if not base.is_dir():
        raise DataError(base, "directory not found; expected loghub/<System>/<System>_2k.log_structured.csv "
                              "(point data_dir or RLOG_DATA_DIR at a folder laid out like shared/data)")
    found = tuple(sorted(p.name for p in base.iterdir()
                         if (p / f"{p.name}_2k.log_structured.csv").exists()))
    if not found:
        raise DataError(base, "no system found; expected loghub/<System>/<System>_2k.log_structured.csv")
    return found


def ground_truth_file(root: Path, system: str, ground_truth: str) -> Path:
    """The structured CSV holding ``system``'s templates under ``ground_truth``."""
    if ground_truth == "original":
        return root / "loghub" / system / f"{system}_2k.log_structured.csv"
    candidates = [root / d / system / f"{system}_2k.log_structured_corrected.csv" for d in _CORRECTED_DIRS]
    for path in candidates:
        if path.exists():
            return path
    raise DataError(candidates[0], f"no corrected templates for {system}: expected this file or "
                                   f"{candidates[1]} (or pass ground_truth='original')")


@lru_cache(maxsize=None)
def _messages(root: Path, system: str) -> dict[int, str]:
    path = root / "loghub" / system / f"{system}_2k.log_structured.csv"
    out: dict[int, str] = {}
    for line, row in read_csv(path, ("LineId", "Content")):
        out[_line_id(path, line, row)] = row["Content"]
    return out


def _line_id(path: Path, line: int, row: dict[str, str]) -> int:
    try:
        return int(row["LineId"])
    except ValueError:
        raise DataError(path, f"expected an integer LineId, found {row['LineId']!r}", line=line) from None


@lru_cache(maxsize=None)
def parsing_samples(root: Path, ground_truth: str) -> tuple[Sample, ...]:
    """One log-parsing sample per distinct message of every system, with its split set."""
    samples = []
    for system in systems(root):
        messages = _messages(root, system)
        path = ground_truth_file(root, system, ground_truth)
        first_line: dict[str, int] = {}
        templates: dict[str, Counter] = {}
        for line, row in read_csv(path, ("LineId", "EventTemplate")):
            line_id = _line_id(path, line, row)
            if line_id not in messages:
                raise DataError(path, f"LineId {line_id} has no row in {system}_2k.log_structured.csv", line=line)
            content = messages[line_id]
            first_line.setdefault(content, line_id)
            templates.setdefault(content, Counter())[row["EventTemplate"]] += 1
        for content, line_id in first_line.items():
            # A message has one template in every shipped file; take the commonest if not.
            template = templates[content].most_common(1)[0][0]
            samples.append(Sample(
                task="log_parsing", domain=system, logs=content, reference=template,
                meta={"source": NAME, "split": content_split(content), "system": system,
                      "id": f"{NAME}/{system}/{line_id}", "line_id": line_id,
                      "occurrences": sum(templates[content].values()),
                      "ground_truth": path.parent.parent.name},
            ))
    return tuple(samples)


@lru_cache(maxsize=None)
def anomaly_samples(root: Path) -> tuple[Sample, ...]:
    """One anomaly-detection sample per distinct BGL message, labelled from the raw line."""
    system = AD_SYSTEM
    structured = root / "loghub" / system / f"{system}_2k.log_structured.csv"
    raw_path = root / "loghub" / system / f"{system}_2k.log"
    # Split on "\n" only: str.splitlines would also break at \x0b, \x1c or U+2028 inside a
    # line and shift every later line against its LineId.
    raw_lines = [line.removesuffix("\r") for line in read_text(raw_path).split("\n")]
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    seen: dict[str, Sample] = {}
    counts: Counter = Counter()
    for line, row in read_csv(structured, ("LineId", "Label", "Content")):
        line_id = _line_id(structured, line, row)
        if not 1 <= line_id <= len(raw_lines):
            raise DataError(structured, f"LineId {line_id} has no line in {raw_path.name} "
                                        f"({len(raw_lines)} lines)", line=line)
        label_token, _, rest = raw_lines[line_id - 1].partition(" ")
        if label_token != row["Label"]:
            raise DataError(raw_path, f"expected the label {row['Label']!r} (from {structured.name}) "
                                      f"as the first token, found {label_token!r}", line=line_id)
        content = row["Content"]
        counts[content] += 1
        if content not in seen:
            seen[content] = Sample(
                task="anomaly_detection", domain=system, logs=rest,
                reference=NORMAL if row["Label"] == "-" else ABNORMAL,
                meta={"source": NAME, "split": content_split(content), "system": system,
                      "id": f"{NAME}/{system}/{line_id}", "line_id": line_id},
            )
    return tuple(
        Sample(s.task, s.domain, s.logs, s.reference, meta={**s.meta, "occurrences": counts[c]})
        for c, s in seen.items()
    )


def load_samples(root: Path, task: str, ground_truth: str = "corrected") -> tuple[Sample, ...]:
    """All LogHub samples of ``task``, each with ``meta["split"]`` set."""
    if ground_truth not in GROUND_TRUTHS:
        raise ValueError(f"ground_truth expects 'corrected' or 'original', got {ground_truth!r}")
    if task == "log_parsing":
        return parsing_samples(root, ground_truth)
    return anomaly_samples(root)


def domains(root: Path, task: str) -> tuple[str, ...]:
    """The systems a LogHub task can be restricted to."""
    return systems(root) if task == "log_parsing" else (AD_SYSTEM,)
