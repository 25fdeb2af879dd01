"""Broken data is refused, clearly, and leaves nothing behind.

Every case of the corpus (tests/datasets/broken_corpus.py) breaks one thing in a minimal valid
data directory built under ``tmp_path`` from a few real lines of shared/data: a truncated CSV or
JSON file, wrong columns, Latin-1 or UTF-16 text, a BOM, NUL bytes, mixed line endings, an
empty file, a directory or a pipe where a file should be, a symbolic link out of the data
directory, a huge line, a repeated header, a missing or unknown label, JSON of the wrong shape,
a malformed manifest row. For each one:

- loading raises a :class:`~rlog_env.DataError` (never a bare ``KeyError``, ``IndexError`` or
  ``UnicodeDecodeError``, and never a silent skip or a partial load) whose message names the
  file, the line where there is one, and what was expected;
- once the file is fixed, loading the *same* data directory in the same process gives exactly
  what a clean copy gives: the failed load left no half-filled cache behind.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rlog_env import DataError, load_source
from rlog_env.datasets import loglm

import broken_corpus as corpus
from broken_corpus import CORPUS, LOADERS, pristine_files, restore, snapshot, write_files


@pytest.fixture(scope="module")
def files(data_dir) -> dict[str, bytes]:
    return pristine_files(data_dir)


@pytest.fixture(scope="module")
def clean(files, tmp_path_factory) -> dict[str, tuple]:
    """What each loader gives on the untouched layout: the control for every case."""
    root = tmp_path_factory.mktemp("clean") / "data"
    write_files(root, files)
    return {name: snapshot(load(root)) for name, load in LOADERS.items()}


def test_the_corpus_is_large_and_covers_every_loader():
    ids = [case.id for case in CORPUS]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    assert Counter(case.loader for case in CORPUS).keys() == LOADERS.keys()


def test_the_minimal_layout_loads_with_every_loader(clean):
    for name, loaded in clean.items():
        assert loaded, f"the clean layout gives nothing for {name}"
    assert {reference for _, _, reference, _, _ in clean["loghub-anomaly"]} == {"normal", "abnormal"}
    assert {reference for _, _, reference, _, _ in clean["hdfs"]} <= {"normal", "abnormal"}


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_broken_input_is_refused_clearly_and_loads_once_fixed(case, files, clean, tmp_path):
    root = tmp_path / "data"
    write_files(root, files)
    case.corrupt(root, files)
    load = LOADERS[case.loader]

    with pytest.raises(DataError) as caught:
        load(root)
    error, message = caught.value, str(caught.value)
    where = root.resolve() / case.file  # the path as the loader built it: links not followed
    assert error.path == where and message.startswith(str(where)), message
    line = case.expected_line(files)
    if line is None:
        assert error.line is None, message
    else:
        assert error.line == line and re.search(rf"^{re.escape(str(where))}, line {line}: ", message), message
    assert "expected" in message, f"the message does not say what was expected: {message}"
    for word in case.words:
        assert word in message, (word, message)

    # Fixed in place, the same data directory loads exactly like a clean one: nothing of the
    # failed attempt was kept.
    restore(root, files, case.paths_to_restore())
    assert snapshot(load(root)) == clean[case.loader]


def _test_file(items: list[dict], start: int) -> bytes:
    """A LogLM test-set file of five made-up items, laid out like upstream."""
    made_up = [{"instruction": items[0]["instruction"], "input": f"ERROR made-up failure {k}",
                "output": f"A made-up explanation {k}."} for k in range(start, start + 5)]
    return json.dumps(made_up).encode()


def test_a_failed_load_keeps_no_cache(files, tmp_path):
    """LogLM reads its test-set files (cached) before its instruction file. When the instruction
    file is broken, the load fails; if the user then fixes it *and* replaces a test-set file,
    the next load must read the new test-set file, not serve the one cached before the failure."""
    root = tmp_path / "data"
    write_files(root, files)
    items = corpus.loglm_items(root)
    test_file = root / corpus.LOGLM_TEST
    test_file.parent.mkdir(parents=True)
    test_file.write_bytes(_test_file(items, 0))
    (root / corpus.LOGLM).write_bytes(b"[")  # broken
    with pytest.raises(DataError, match="invalid JSON"):
        load_source("loglm", "log_interpretation", split="test", data_dir=root)
    assert loglm._test_items.cache_info().currsize == loglm._instruction_items.cache_info().currsize == 0

    (root / corpus.LOGLM).write_bytes(files[corpus.LOGLM])  # fixed
    test_file.write_bytes(_test_file(items, 100))  # and the test set replaced meanwhile
    test = load_source("loglm", "log_interpretation", split="test", data_dir=root)
    assert sorted(s.logs for s in test.samples) == [f"ERROR made-up failure {k}" for k in range(100, 105)]


def test_a_symlink_inside_the_data_directory_is_fine(files, clean, tmp_path):
    """Only links *out* of the data directory are refused: one file shared by two folders, as
    the HDFS templates are (hdfs_anomaly/ and loghub/HDFS/), may be a link."""
    root = tmp_path / "data"
    write_files(root, files)
    shared = root / "loghub" / "HDFS" / "HDFS_templates.csv"
    shared.parent.mkdir(parents=True)
    (root / corpus.HDFS_TEMPLATES).rename(shared)
    (root / corpus.HDFS_TEMPLATES).symlink_to(Path("..") / "loghub" / "HDFS" / "HDFS_templates.csv")
    assert snapshot(LOADERS["hdfs"](root)) == clean["hdfs"]


def test_a_data_directory_reached_through_a_link_is_fine(files, clean, tmp_path):
    """RLOG_DATA_DIR itself may be a link (to a bigger disk, say): the directory it leads to is
    the data directory, and nothing in it leaves it."""
    real = tmp_path / "disk" / "data"
    write_files(real, files)
    (tmp_path / "data").symlink_to(real)
    assert snapshot(LOADERS["loghub-parsing"](tmp_path / "data")) == clean["loghub-parsing"]


# Modules that read what others hand us (data files, manifests, downloads): data only.
_READERS = ("base", "loghub", "loglm", "hdfs", "download", "__init__")
_UNSAFE_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib", "yaml", "cloudpickle"}
_UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}  # called bare (re.compile is fine)
_BINARY_LOADERS = {"load", "loads", "read_pickle"}  # np.load, torch.load, pickle.loads, ...: only json's


@pytest.mark.parametrize("module", _READERS)
def test_the_readers_only_parse_text(module):
    """The loaders read CSV, JSON and plain lines, and nothing else: no unpickling module is
    imported, and nothing is evaluated, compiled or loaded by a binary loader (``np.load``,
    ``torch.load``, ``pickle.loads``); ``json.load(s)`` is the one ``load`` allowed."""
    import ast

    import rlog_env.datasets as package

    path = Path(package.__file__).with_name(f"{module}.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            names = set()
        assert not names & _UNSAFE_MODULES, f"{path.name}:{node.lineno} imports {names & _UNSAFE_MODULES}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
            bare = isinstance(func, ast.Name)
            if (bare and name in _UNSAFE_BUILTINS) or (name in _BINARY_LOADERS and owner != "json"):
                pytest.fail(f"{path.name}:{node.lineno} calls {owner + '.' if owner else ''}{name}")
