"""LogLM instruction data: parsing, anomaly detection and the free-text tasks (Liu et al., ICSE 2025 SEIP; Apache-2.0).

Layout: ``loglm/instruction_dataset_of_loglm.json`` and, where present,
``loglm/test_set/{log_interpretation,root_cause_analysis,solution_recommendation}_test.json``;
each a JSON array of ``{"instruction", "input", "output"}``.

The instruction file has no task field, so the task is read from the instruction's wording
(:func:`classify_instruction`). Instruction-file samples are de-duplicated by input within a
task, and no input is in both splits of any two tasks: an input is held out when a test-set file
holds it or its hash falls in a fixed 20 %. The ``test`` split of a text task is its test-set
file where present — every item of it, once, with its own instruction and reference (upstream's
76 per task; some share an input and differ in what they ask), id ``loglm/test/<position in the
file>`` — otherwise, and for parsing and anomaly detection, it is the held-out inputs.

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
from typing import Iterator

from rlog_env.datasets.base import MAX_LINE_CHARS, TEST, DataError, content_split, is_present, read_text
from rlog_env.tasks import TASKS as TASK_CLASSES
from rlog_env.tasks import TEXT, Sample

NAME = "loglm"
TASKS = ("log_parsing", "anomaly_detection", "log_interpretation", "root_cause_analysis",
         "solution_recommendation")
INSTRUCTIONS = "loglm/instruction_dataset_of_loglm.json"
# LogLM's test set: one file for each of its free-text tasks.
TEST_FILES = {task: f"loglm/test_set/{task}_test.json" for task in TASKS if TASK_CLASSES[task].kind == TEXT}
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


_FIELDS = ("instruction", "input", "output")
_AD_ANSWERS = ("normal", "abnormal")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object hook that refuses a key given twice (``json`` would keep the last one)."""
    item = dict(pairs)
    if len(item) != len(pairs):
        twice = sorted({k for k, _ in pairs if sum(1 for j, _ in pairs if j == k) > 1})
        raise _DuplicateKey(f"key(s) {', '.join(map(repr, twice))} given more than once")
    return item


_SPACE = re.compile(r"\s*")


def _json_kind(value: object) -> str:
    """What a decoded JSON value is, in JSON's words."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _items_at(text: str, hook=dict) -> Iterator[tuple[int, int]]:
    """Yield ``(index, line)`` for each item of the JSON array ``text`` before decoding it with
    ``hook``, so a caller that catches the hook's error knows the item. The slow path, run only to
    point at a bad item (``json.loads`` gives no positions)."""
    decoder = json.JSONDecoder(object_pairs_hook=hook)
    at = _SPACE.match(text).end()
    if not text.startswith("[", at):
        return
    at, counted, line = _SPACE.match(text, at + 1).end(), 0, 1
    index = 0
    while at < len(text) and not text.startswith("]", at):
        line += text.count("\n", counted, at)
        counted = at
        yield index, line
        _, at = decoder.raw_decode(text, at)
        at = _SPACE.match(text, at).end()
        if text.startswith(",", at):
            at = _SPACE.match(text, at + 1).end()
        index += 1


def _item_error(path: Path, text: str, index: int, problem: str) -> DataError:
    line = next((n for i, n in _items_at(text) if i == index), None)
    return DataError(path, f"item {index}: {problem}", line=line)


def _duplicate_key_error(path: Path, text: str, problem: str) -> DataError:
    where = None
    try:
        for where in _items_at(text, _unique_keys):
            pass
    except _DuplicateKey:
        index, line = where
        return DataError(path, f"item {index}: {problem}; expected each key once", line=line)
    return DataError(path, f"{problem}; expected each key once")


def _read_items(path: Path, root: Path) -> list[dict[str, str]]:
    """The items of a LogLM JSON file: an array of objects, each with non-empty string fields
    ``instruction``, ``input`` and ``output`` of at most :data:`MAX_LINE_CHARS` characters, no
    key given twice. Anything else is a ``DataError`` naming the file, the line and the item."""
    text = read_text(path, root)
    expected = "expected a JSON array of {instruction, input, output} objects"
    try:
        items = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        found = "an empty file" if not text.strip() else f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise DataError(path, f"{found}; {expected}", line=exc.lineno) from None
    except _DuplicateKey as exc:
        raise _duplicate_key_error(path, text, str(exc)) from None
    if not isinstance(items, list):
        raise DataError(path, f"{expected}, found {_json_kind(items)}", line=1)
    if not items:
        raise DataError(path, f"an empty array; {expected}", line=1)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _item_error(path, text, i, f"expected an object with string fields instruction, input and "
                                             f"output, found {_json_kind(item)} {json.dumps(item)[:80]}")
        for key in _FIELDS:
            value = item.get(key)
            if not isinstance(value, str):
                found = "no such field" if key not in item else f"{_json_kind(value)} {json.dumps(value)[:80]}"
                raise _item_error(path, text, i, f"expected a string field {key!r}, found {found}")
            if not value.strip():
                raise _item_error(path, text, i, f"empty {key!r}; expected the item's {key}")
            if len(value) > MAX_LINE_CHARS:
                raise _item_error(path, text, i, f"{key!r} has {len(value)} characters; expected at most "
                                                 f"{MAX_LINE_CHARS}")
    return items


@lru_cache(maxsize=None)
def _instruction_items(root: Path) -> tuple[tuple[str, dict[str, str], int], ...]:
    path = root / INSTRUCTIONS
    items = _read_items(path, root)
    tasks = [classify_instruction(item["instruction"]) for item in items]
    for i, (task, item) in enumerate(zip(tasks, items)):
        if task == "anomaly_detection" and item["output"] not in _AD_ANSWERS:
            text = read_text(path, root)
            raise _item_error(path, text, i, f"expected 'normal' or 'abnormal' as the output of an "
                                             f"anomaly-detection item, found {item['output'][:80]!r}")
    return tuple(zip(tasks, items, range(len(items))))


@lru_cache(maxsize=None)
def _test_items(root: Path) -> dict[str, list[dict[str, str]]]:
    # is_present, not exists: a dangling link where a test file should be is reported, not skipped
    return {task: _read_items(root / rel, root) for task, rel in TEST_FILES.items() if is_present(root / rel)}


def has_test_files(root: Path) -> bool:
    """Whether the LogLM test-set files are present (they define the text tasks' test split)."""
    return bool(_test_items(root))


def _sample(task: str, item: dict[str, str], split: str, domain: str, item_id: str) -> Sample:
    return Sample(task=task, domain=domain, logs=item["input"], reference=item["output"],
                  instruction=item["instruction"],
                  meta={"source": NAME, "split": split, "id": item_id})


@lru_cache(maxsize=None)
def load_samples(root: Path, task: str) -> tuple[Sample, ...]:
    """All LogLM samples of ``task``, each with ``meta["split"]`` set.

    One rule decides every input's split, whatever the task, so no input is in the train split
    of one task and the test split of another: an input is a test input when a test-set file
    holds it or its hash falls in the held-out 20 %. Samples from the instruction file are
    de-duplicated by input. A task with a test-set file takes its test split from that file
    alone (its other held-out inputs are in neither split): every item once — items that share
    an input but ask something else or answer differently are distinct samples; only an item
    repeated verbatim (instruction, input and output alike, whitespace aside) counts once.
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
    test_seen: set[tuple[str, ...]] = set()
    for position, item in enumerate(test_files.get(task, [])):
        key = tuple(_key(item[field]) for field in _FIELDS)  # the item, not its input
        if key in test_seen:
            continue
        test_seen.add(key)
        samples.append(_sample(task, item, TEST, TEXT_DOMAIN, f"{NAME}/test/{position}"))
    return tuple(samples)


def clear_cache() -> None:
    """Forget every file this module has read (the sources call it when a load fails)."""
    for cached in (_instruction_items, _test_items, load_samples):
        cached.cache_clear()


def domains(root: Path, task: str) -> tuple[str, ...]:
    """The domains a LogLM task can be restricted to."""
    if task == "log_parsing":
        return PARSING_SYSTEMS
    return (AD_DOMAIN,) if task == "anomaly_detection" else (TEXT_DOMAIN,)
