"""Fixtures for the task tests: real LogHub rows and LogLM pairs, read through ``data_dir``.

Nothing is copied into the repository: every file is read from ``RLOG_DATA_DIR`` (or the
``../shared/data`` fallback of ``tests/conftest.py``).
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

import pytest

from rlog_env.tasks import Sample

# The three LogHub folders: name, glob of the structured CSVs.
LOGHUB_FOLDERS = {
    "loghub": "*/*_2k.log_structured.csv",
    "loghub_2k_corrected": "*/*_2k.log_structured_corrected.csv",
    "loghub2_2k_corrected": "*/*_2k.log_structured_corrected.csv",
}


@lru_cache(maxsize=None)
def _read_csv(path: str) -> tuple[dict[str, str], ...]:
    with open(path, newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def read_structured(data_dir: Path, folder: str, system: str) -> tuple[dict[str, str], ...]:
    """The rows of ``<folder>/<system>/<system>_2k.log_structured[_corrected].csv``."""
    pattern = LOGHUB_FOLDERS[folder].split("/", 1)[1].replace("*", system, 1)
    paths = sorted((data_dir / folder / system).glob(pattern))
    if len(paths) != 1:
        pytest.fail(f"expected one structured CSV for {system} in {data_dir / folder}, got {paths}")
    return _read_csv(str(paths[0]))


def loglm_kind(instruction: str) -> str:
    """Which task a LogLM instruction asks for (by its wording)."""
    text = instruction.lower()
    if text.startswith("convert the following logs"):
        return "log_parsing"
    if text.startswith("classify the given log"):
        return "anomaly_detection"
    if "root cause" in text:
        return "root_cause_analysis"
    if "solution" in text or "resolve" in text:
        return "solution_recommendation"
    return "log_interpretation"


@pytest.fixture(scope="session")
def loglm(data_dir: Path) -> list[dict[str, str]]:
    """The LogLM instruction pairs (``instruction``, ``input``, ``output``)."""
    path = data_dir / "loglm" / "instruction_dataset_of_loglm.json"
    if not path.is_file():
        pytest.fail(f"missing {path}: RLOG_DATA_DIR must be laid out like shared/data")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="session")
def structured(data_dir: Path):
    """``structured(folder, system)`` -> the rows of that structured CSV (cached)."""
    if not (data_dir / "loghub").is_dir():
        pytest.fail(f"missing {data_dir / 'loghub'}: "
                    "RLOG_DATA_DIR must be laid out like shared/data")

    def read(folder: str, system: str) -> tuple[dict[str, str], ...]:
        return read_structured(data_dir, folder, system)

    return read


@pytest.fixture(scope="session")
def real_samples(structured, loglm) -> dict[str, list[Sample]]:
    """A few real samples per task.

    Parsing: LogHub lines (message = ``Content``, reference = ``EventTemplate``) from four
    systems. Anomaly detection: BGL lines, ``Label`` ``-`` is normal, anything else abnormal
    (both labels present). Text tasks: LogLM pairs of that task whose reference has >= 4 words.
    """
    samples: dict[str, list[Sample]] = {}
    parsing = []
    for system, line_ids in {"HDFS": ("1", "3"), "Linux": ("14", "83"), "BGL": ("8", "1"),
                             "OpenStack": ("12",)}.items():
        rows = {row["LineId"]: row for row in structured("loghub", system)}
        for line_id in line_ids:
            row = rows[line_id]
            parsing.append(Sample("log_parsing", system, row["Content"], row["EventTemplate"],
                                  meta={"source": "loghub", "line": line_id}))
    samples["log_parsing"] = parsing

    bgl = structured("loghub", "BGL")
    normal = [row for row in bgl if row["Label"] == "-"][:3]
    abnormal = [row for row in bgl if row["Label"] != "-"][:3]
    assert len(normal) == 3 and len(abnormal) == 3
    samples["anomaly_detection"] = [
        Sample("anomaly_detection", "BGL", row["Content"],
               "normal" if row["Label"] == "-" else "abnormal", meta={"line": row["LineId"]})
        for pair in zip(normal, abnormal) for row in pair
    ]

    for task in ("log_interpretation", "root_cause_analysis", "solution_recommendation"):
        picked = [item for item in loglm
                  if loglm_kind(item["instruction"]) == task and len(item["output"].split()) >= 4]
        assert len(picked) >= 3, task
        samples[task] = [Sample(task, "loglm", item["input"], item["output"],
                                instruction=item["instruction"]) for item in picked[:3]]
    return samples
