"""The ``hdfs`` source: HDFS block sessions rendered as log text, for session-level anomaly
detection.

The labelled data (hdfs_anomaly/, after logdeep) holds event-id sequences only; the source
renders each distinct sequence as HDFS log lines. These tests check the rendering against the
full-log LogHub templates and the real log's header shape, recount the de-duplication from the
four files independently, and break copies of the files (under ``tmp_path``, never in the
repository) to check the errors.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from rlog_env import DataError, load_source
from rlog_env.datasets import hdfs

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK = "anomaly_detection"
SPLITS = ("train", "test")
FOLDER = "hdfs_anomaly"
PLAIN = {"hdfs_train": "normal", "hdfs_test_abnormal": "abnormal"}
LABELLED = ("robust_log_train.csv", "robust_log_valid.csv")
TEMPLATES = "HDFS_templates.csv"
FILES = (*PLAIN, *LABELLED, TEMPLATES)
# The shape of a real HDFS_v1 line: date time thread LEVEL component: content
HEADER = re.compile(r"^(\d{6}) (\d{6}) \d+ (INFO|WARN) dfs\.[\w$]+: ")
BLOCK = re.compile(r"blk_-?\d+")
IPV4 = re.compile(r"(?<![^\s/:])\d+\.\d+\.\d+\.\d+")  # an address, after a space, / or :


def _source(root: Path, split: str = "train"):
    return load_source("hdfs", TASK, split=split, data_dir=root)


# -- an independent reading of the files ------------------------------------------------------

def _read_sequences(folder: Path) -> list[tuple[tuple[int, ...], str]]:
    """Every (sequence, label) occurrence, in file order: the plain files, then the CSVs."""
    seen = []
    for name, label in PLAIN.items():
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            seen.append((tuple(int(e) for e in line.split()), label))
    for name in LABELLED:
        with (folder / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                label = {"0": "normal", "1": "abnormal"}[row["label"]]
                seen.append((tuple(int(e) for e in row["Sequence"].split()), label))
    return seen


@pytest.fixture(scope="module")
def expected(data_dir):
    """The distinct sequences in first-seen order, their labels, and the contradictory ones."""
    labels: dict[tuple[int, ...], set[str]] = {}
    for sequence, label in _read_sequences(data_dir / FOLDER):
        labels.setdefault(sequence, set()).add(label)
    conflicts = {s for s, found in labels.items() if len(found) > 1}
    kept = [(s, next(iter(found))) for s, found in labels.items() if s not in conflicts]
    return {"distinct": len(labels), "conflicts": conflicts, "kept": kept}


@pytest.fixture(scope="module")
def templates(data_dir) -> dict[int, re.Pattern]:
    """The full-log templates as regexes, read here (not through the source)."""
    with (data_dir / FOLDER / TEMPLATES).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = {}
    for row in rows:
        number = int(re.fullmatch(r"E(\d+)", row["EventId"]).group(1))
        out[number] = re.compile("(.*?)".join(map(re.escape, row["EventTemplate"].split("<*>"))), re.DOTALL)
    return out


@pytest.fixture(scope="module")
def sessions(data_dir, expected):
    """(split, sample, its sequence) for every sample; the sequence is the ``n``-th distinct one
    (first seen over the four files, as hdfs.labelled_sequences documents) for id ``hdfs/n``."""
    out = []
    for split in SPLITS:
        for sample in _source(data_dir, split).samples:
            number = int(re.fullmatch(r"hdfs/(\d+)", sample.meta["id"]).group(1))
            out.append((split, sample, expected["kept"][number][0]))
    return out


# -- rendering --------------------------------------------------------------------------------

def test_the_header_regex_is_the_real_hdfs_shape(data_dir):
    lines = (data_dir / "loghub" / "HDFS" / "HDFS_2k.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2000
    assert all(HEADER.match(line) for line in lines)


def test_every_line_fits_the_template_of_its_event(sessions, templates):
    assert set(templates) == set(hdfs.EVENTS) == set(range(1, 31))
    for split, sample, sequence in sessions:
        lines = sample.logs.split("\n")
        assert len(lines) == len(sequence) == sample.meta["events"], sample.meta
        for position, (line, event) in enumerate(zip(lines, sequence)):
            header = HEADER.match(line)
            assert header, f"{sample.meta['id']} line {position}: header unlike HDFS: {line!r}"
            content = line[header.end():]
            assert templates[event].fullmatch(content), (
                f"{sample.meta['id']} line {position} should be E{event}: {content!r}")
        stamps = [HEADER.match(line).group(1, 2) for line in lines]
        assert stamps == sorted(stamps), f"{sample.meta['id']}: lines out of time order"


def test_a_session_names_one_block_and_its_datanodes(sessions):
    blocks = set()
    for _, sample, _ in sessions:
        lines = sample.logs.split("\n")
        found = set(BLOCK.findall(sample.logs))
        assert len(found) == 1, (sample.meta["id"], found)
        (block,) = found
        assert all(block in line for line in lines), sample.meta["id"]
        assert re.fullmatch(r"blk_-?[1-9]\d*|blk_0", block)
        blocks.add(block)
        ips = set(IPV4.findall(sample.logs))
        assert ips, sample.meta["id"]
        for ip in ips:
            a, b, c, d = map(int, ip.split("."))
            assert a == 10 and b in (250, 251) and 0 <= c <= 255 and 0 <= d <= 255, (sample.meta["id"], ip)
        assert len(ips) <= 3, f"{sample.meta['id']}: more than a block's three replicas: {ips}"
    assert len(blocks) == len(sessions), "two sessions share a block id"


def test_datanode_addresses_vary_like_the_real_log(sessions):
    """In HDFS_2k.log no last octet is in more than ~2% of the addresses; a rendered data set
    where one datanode address pattern (say x.x.x.254) is in most sessions is not HDFS-like."""
    share = Counter()
    for _, sample, _ in sessions:
        share.update({ip.rsplit(".", 1)[1] for ip in IPV4.findall(sample.logs)})
    octet, count = share.most_common(1)[0]
    total = len(sessions)
    assert count / total < 0.1, f"{count} of {total} sessions name a datanode whose address ends in .{octet}"


# -- de-duplication, labels, splits -----------------------------------------------------------

def test_size_is_distinct_sequences_less_contradictions(data_dir, expected):
    train, test = (_source(data_dir, split) for split in SPLITS)
    assert len(expected["conflicts"]) == 1  # SOURCE.md's files: one sequence labelled both ways
    assert len(train) + len(test) == expected["distinct"] - len(expected["conflicts"]) == len(expected["kept"])
    assert hdfs.CONFLICTS[data_dir.resolve()] == len(expected["conflicts"])
    assert [list(s) for s, _ in hdfs.labelled_sequences(data_dir.resolve())] == [list(s) for s, _ in expected["kept"]]


def test_label_counts_per_class(sessions, expected):
    counts = {split: Counter(sample.reference for s, sample, _ in sessions if s == split) for split in SPLITS}
    assert counts["train"] + counts["test"] == Counter(label for _, label in expected["kept"])
    for split in SPLITS:
        assert set(counts[split]) == {"normal", "abnormal"}, counts[split]


def test_labels_follow_the_files(sessions, expected):
    label_of = dict(expected["kept"])
    for _, sample, sequence in sessions:
        assert sample.reference == label_of[sequence], sample.meta["id"]
        assert sequence not in expected["conflicts"]


def test_splits_are_disjoint_by_sequence(sessions, expected):
    by_split = {split: [seq for s, _, seq in sessions if s == split] for split in SPLITS}
    for split in SPLITS:
        assert len(by_split[split]) == len(set(by_split[split])), f"a sequence twice in {split}"
    assert not set(by_split["train"]) & set(by_split["test"])
    assert set(by_split["train"]) | set(by_split["test"]) == {s for s, _ in expected["kept"]}
    texts = {split: {sample.logs for s, sample, _ in sessions if s == split} for split in SPLITS}
    assert not texts["train"] & texts["test"]
    for split, sample, _ in sessions:
        assert sample.meta["split"] == split and sample.domain == "HDFS"
    assert 0.15 < len(by_split["test"]) / len(sessions) < 0.25


# -- determinism and caching ------------------------------------------------------------------

PICKS = {"train": [0, 1, 2, 17, 1000, -1], "test": [0, 5, 300, -1]}

_RENDER_DIGEST = r"""
import hashlib, json, sys
from rlog_env import load_source
picks = json.loads(sys.argv[2])
out = {}
for split, indices in picks.items():
    source = load_source("hdfs", "anomaly_detection", split=split, data_dir=sys.argv[1])
    out[split] = [hashlib.sha256(source[i % len(source)].logs.encode()).hexdigest() for i in indices]
print(json.dumps(out))
"""


def test_rendering_is_the_same_in_another_process(data_dir):
    here = {}
    for split, indices in PICKS.items():
        source = _source(data_dir, split)
        here[split] = [hashlib.sha256(source[i % len(source)].logs.encode()).hexdigest() for i in indices]
    env = dict(os.environ, PYTHONHASHSEED="12345")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", _RENDER_DIGEST, str(data_dir), json.dumps(PICKS)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == here


def test_second_load_is_cached(data_dir):
    first = _source(data_dir, "test")
    best = float("inf")
    for _ in range(5):  # the fastest of a few tries, so a busy machine does not fail the test
        start = time.perf_counter()
        again = _source(data_dir, "test")
        best = min(best, time.perf_counter() - start)
        assert again is first
    assert best < 1e-3, f"a cached load took {best * 1e3:.2f} ms"


# -- broken data ------------------------------------------------------------------------------

def _copy_hdfs(data_dir: Path, root: Path) -> Path:
    folder = root / FOLDER
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(data_dir / FOLDER / name, folder / name)
    return folder


def _edit_line(path: Path, number: int, transform) -> None:
    """Replace physical line ``number`` (1-based) of a CRLF or LF file by ``transform(line)``."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = transform(lines[number - 1])
    path.write_bytes(b"\n".join(lines))


def _expect_data_error(root: Path, path: Path, line: int | None, *words: str) -> DataError:
    path = path.resolve()
    with pytest.raises(DataError) as caught:
        _source(root)
    message = str(caught.value)
    assert caught.value.path == path and str(path) in message, message
    if line is not None:
        assert caught.value.line == line and re.search(rf"\bline {line}\b", message), message
    for word in words:
        assert word in message, (word, message)
    return caught.value


def test_a_clean_copy_loads(data_dir, tmp_path):
    """The control for the cases below."""
    _copy_hdfs(data_dir, tmp_path)
    for split in SPLITS:
        copy, original = _source(tmp_path, split), _source(data_dir, split)
        assert [s.logs for s in copy.samples] == [s.logs for s in original.samples]


BROKEN = {
    "non-integer event id": ("hdfs_train", 7, lambda line: line.replace(b"5", b"5x", 1), ("5x",)),
    "unknown event id 99": ("hdfs_test_abnormal", 3, lambda line: b"99 " + line, ("99",)),
    "empty line": ("hdfs_train", 4, lambda line: b"\r", ("empty",)),
    "label 2": ("robust_log_train.csv", 10, lambda line: line[: line.rindex(b",")] + b",2", ("'2'",)),
    "non-integer event id in a CSV": ("robust_log_valid.csv", 6, lambda line: b"22 five" + line[line.index(b" "):],
                                      ("five",)),
    "unknown event id in a CSV": ("robust_log_valid.csv", 9, lambda line: b"31 " + line, ("31",)),
    "empty CSV line": ("robust_log_train.csv", 12, lambda line: b"", ()),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_sequence_files(data_dir, tmp_path, case):
    name, line, transform, words = BROKEN[case]
    folder = _copy_hdfs(data_dir, tmp_path)
    _edit_line(folder / name, line, transform)
    _expect_data_error(tmp_path, folder / name, line, *words)


def test_the_2k_templates_file_is_rejected(data_dir, tmp_path):
    folder = _copy_hdfs(data_dir, tmp_path)
    shutil.copyfile(data_dir / "loghub" / "HDFS" / "HDFS_2k.log_templates.csv", folder / TEMPLATES)
    _expect_data_error(tmp_path, folder / TEMPLATES, None, "2k")


def test_a_non_e_event_id_is_rejected(data_dir, tmp_path):
    folder = _copy_hdfs(data_dir, tmp_path)
    _edit_line(folder / TEMPLATES, 6, lambda line: b"Event5" + line[line.index(b","):])
    _expect_data_error(tmp_path, folder / TEMPLATES, 6, "Event5")


def _renumber_like_2k(data_dir: Path, full: Path) -> set[int]:
    """Rewrite the full templates with the 2k sample's numbering: the 14 templates of the 2k file
    take its ids, the other 16 the ids left over, in order. Returns the lines renamed."""
    with (data_dir / "loghub" / "HDFS" / "HDFS_2k.log_templates.csv").open(newline="", encoding="utf-8") as f:
        short = [(int(r["EventId"][1:]), r["EventTemplate"]) for r in csv.DictReader(f)]
    with full.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pattern = {r["EventId"]: re.compile("(.*?)".join(map(re.escape, r["EventTemplate"].split("<*>"))))
               for r in rows}
    # a 2k template (like "Served block blk_<*> to /<*>") is an instance of one full template
    new_id = {}
    for number, text in short:
        sample = text.replace("<*>", "1")
        (match,) = [old for old, p in pattern.items() if p.fullmatch(sample) and old not in new_id]
        new_id[match] = f"E{number}"
    spare = iter(n for n in range(1, 31) if f"E{n}" not in new_id.values())
    for row in rows:
        row["EventId"] = new_id.get(row["EventId"]) or f"E{next(spare)}"
    renamed = {i + 2 for i, (row, old) in enumerate(zip(rows, pattern)) if row["EventId"] != old}
    with full.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["EventId", "EventTemplate"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return renamed


def test_full_templates_with_the_2k_numbering_are_rejected(data_dir, tmp_path):
    """The same 30 templates numbered like the 2k sample still have ids E1..E30; the source must
    see that E5 no longer reads "Receiving block ... src ... dest" (the sequences' E5)."""
    folder = _copy_hdfs(data_dir, tmp_path)
    renamed = _renumber_like_2k(data_dir, folder / TEMPLATES)
    assert len(renamed) > 10
    error = _expect_data_error(tmp_path, folder / TEMPLATES, None)
    assert error.line in renamed, f"expected the line of a renumbered template, got {error.line}: {error}"


# -- the environment --------------------------------------------------------------------------

@pytest.mark.parametrize("split", SPLITS)
def test_the_environment_passes_the_env_checker(data_dir, split):
    env = gym.make("RLog/AnomalyDetection-v0", source="hdfs", split=split, data_dir=data_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    _, info = env.reset(seed=3)
    assert info["source"] == "hdfs" and info["domain"] == "HDFS"
    env.close()
