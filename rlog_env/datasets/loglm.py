"""LogLM instruction data: all five tasks (Liu et al., ICSE 2025 SEIP; Apache-2.0).

Layout: ``loglm/instruction_dataset_of_loglm.json`` and, where present,
``loglm/test_set/{log_interpretation,root_cause_analysis,solution_recommendation}_test.json``;
each a JSON array of ``{"instruction", "input", "output"}``.

The instruction file has no task field, so the task is read from the instruction's wording
(:func:`classify_instruction`). Samples are de-duplicated by input within a task, and no input
is in both splits of any two tasks: an input is held out when a test-set file holds it or its
hash falls in a fixed 20 %. The ``test`` split of a text task is its test-set file where present;
otherwise, and for parsing and anomaly detection, it is the held-out inputs.

Domains: the 1,400 parsing items come in blocks of 200 from HDFS, Hadoop, Zookeeper, BGL, HPC,
Linux and Proxifier (every one is a LogHub 2k line); anomaly detection mixes BGL and Spirit
lines (``BGL+Spirit``); the text tasks are real user reports, mostly Apache, Django and PHP
(``user-reports``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from rlog_env.datasets.base import TEST, DataError, content_split, read_text
from rlog_env.tasks import Sample

NAME = "loglm"
TASKS = ("log_parsing", "anomaly_detection", "log_interpretation", "root_cause_analysis",
         "solution_recommendation")
TEXT_TASKS = TASKS[2:]
INSTRUCTIONS = "loglm/instruction_dataset_of_loglm.json"
TEST_FILES = {task: f"loglm/test_set/{task}_test.json" for task in TEXT_TASKS}
PARSING_SYSTEMS = ("HDFS", "Hadoop", "Zookeeper", "BGL", "HPC", "Linux", "Proxifier")
PARSING_BLOCK = 200
AD_DOMAIN, TEXT_DOMAIN = "BGL+Spirit", "user-reports"

_WHITESPACE = re.compile(r"\s+")
_SOLUTION = re.compile(
    r"\b(solutions?|resolve|resolving|fix|fixing|recommend\w*|remed\w*|mitigat\w*|prevent\w*|"
    r"solve|workarounds?)\b")
_CAUSE = re.compile(r"\b(root cause|causes?|caused|why)\b")
_INTERPRETATION = re.compile(
    r"\b(interpret\w*|explain\w*|meaning|significance|indicat\w*|what does|nature|pattern|"
    r"insights?|summari[sz]\w*|type of error)\b")


def _first(pattern: re.Pattern, text: str) -> float:
    match = pattern.search(text)
    return match.start() if match else float("inf")


def classify_instruction(instruction: str) -> str:
    """The task a LogLM instruction asks for.

    Parsing asks for templates, anomaly detection for normal/abnormal. Among the free-text
    tasks the earliest cue wins ("Identify the root cause … attempted solutions" asks for a
    cause, "Interpret the log to determine the immediate cause" for an interpretation), except
    that a solution cue beats an interpretation verb ("Explain the solution …") and "root cause"
    beats one ("Identify and explain the root cause …"). An instruction
    with no cue ("Analyze the given log excerpt …") is an interpretation.
    """
    text = instruction.lower()
    if "template" in text:
        return "log_parsing"
    if "abnormal" in text:
        return "anomaly_detection"
    solution, cause = _first(_SOLUTION, text), _first(_CAUSE, text)
    interpretation = _first(_INTERPRETATION, text)
    if solution < cause:
        return "solution_recommendation"
    if "root cause" in text or cause < interpretation:
        return "root_cause_analysis"
    return "log_interpretation"


def _key(text: str) -> str:
    return _WHITESPACE.sub(" ", text.strip())


def _read_items(path: Path) -> list[dict[str, str]]:
    text = read_text(path)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON at column {exc.colno}: {exc.msg}; expected a JSON array "
                              "of {instruction, input, output} objects", line=exc.lineno) from None
    if not isinstance(items, list):
        raise DataError(path, f"expected a JSON array of {{instruction, input, output}} objects, "
                              f"found {type(items).__name__}", line=1)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("instruction", "input", "output")):
            raise DataError(path, f"item {i} must be an object with string fields instruction, "
                                  f"input and output, found {str(item)[:120]!r}")
    return items


@lru_cache(maxsize=None)
def _instruction_items(root: Path) -> tuple[tuple[str, dict[str, str], int], ...]:
    items = _read_items(root / INSTRUCTIONS)
    tasks = [classify_instruction(item["instruction"]) for item in items]
    return tuple(zip(tasks, items, range(len(items))))


@lru_cache(maxsize=None)
def _test_items(root: Path) -> dict[str, list[dict[str, str]]]:
    return {task: _read_items(root / rel) for task, rel in TEST_FILES.items() if (root / rel).exists()}


def has_test_files(root: Path) -> bool:
    """Whether the LogLM test-set files are present (they define the text tasks' test split)."""
    return bool(_test_items(root))


def _sample(task: str, item: dict[str, str], split: str, domain: str, item_id: str) -> Sample:
    return Sample(task=task, domain=domain, logs=item["input"], reference=item["output"],
                  instruction=item["instruction"],
                  meta={"source": NAME, "split": split, "id": item_id})


@lru_cache(maxsize=None)
def load_samples(root: Path, task: str) -> tuple[Sample, ...]:
    """All LogLM samples of ``task``, de-duplicated by input, each with ``meta["split"]`` set.

    One rule decides every input's split, whatever the task, so no input is in the train split
    of one task and the test split of another: an input is a test input when a test-set file
    holds it or its hash falls in the held-out 20 %. A task with a test-set file takes its test
    split from that file alone (its other held-out inputs are in neither split).
    """
    test_files = _test_items(root)
    in_test_files = {_key(item["input"]) for items in test_files.values() for item in items}
    samples, seen = [], set()
    parsing_position = 0
    for item_task, item, position in _instruction_items(root):
        if item_task != task:
            continue
        domain = TEXT_DOMAIN
        if task == "log_parsing":
            block = parsing_position // PARSING_BLOCK
            domain = PARSING_SYSTEMS[block] if block < len(PARSING_SYSTEMS) else "unknown"
            parsing_position += 1
        elif task == "anomaly_detection":
            domain = AD_DOMAIN
        key = _key(item["input"])
        if key in seen:
            continue
        seen.add(key)
        split = TEST if key in in_test_files else content_split(key)
        if split == TEST and task in test_files:
            continue  # this task's test split is its test-set file
        samples.append(_sample(task, item, split, domain, f"{NAME}/train/{position}"))
    test_seen: set[str] = set()
    for position, item in enumerate(test_files.get(task, [])):
        key = _key(item["input"])
        if key in test_seen:
            continue
        test_seen.add(key)
        samples.append(_sample(task, item, TEST, TEXT_DOMAIN, f"{NAME}/test/{position}"))
    return tuple(samples)


def domains(root: Path, task: str) -> tuple[str, ...]:
    """The domains a LogLM task can be restricted to."""
    if task == "log_parsing":
        return PARSING_SYSTEMS
    return (AD_DOMAIN,) if task == "anomaly_detection" else (TEXT_DOMAIN,)
