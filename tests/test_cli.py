"""The ``rlog`` command: ``envs``, ``show``, ``check``, ``score`` and ``data download/verify``.

Every case calls :func:`rlog_env.cli.main` in-process and reads what it printed with
``capsys``; ``rlog data verify`` also runs as a real console script (and as ``python -m
rlog_env.cli``) in a fresh process. ``rlog check`` walks every sample of every finite source:
it runs once as a table and once as JSON. Downloads go to a loopback HTTP mirror of shared/data (the server of
tests/datasets/conftest.py); nothing is ever written into the repository.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import rlog_env
from rlog_env import cli, load_source
from rlog_env.datasets import KNOWN_OVERLAPS, SOURCES
from rlog_env.datasets.download import BASE_URL_ENV, DATASETS, LICENCES, verify

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_IDS = tuple(rlog_env.ENVIRONMENTS)
TASK_OF = {env_id: cls.task_name for env_id, cls in rlog_env.ENVIRONMENTS.items()}
REAL_SOURCES = ("loghub", "loglm", "hdfs")  # the data sets of shared/data


def _tasks(spec) -> tuple[str, ...]:
    return spec.tasks if hasattr(spec, "tasks") else spec[0]


def _needs_data(name: str) -> bool:
    return getattr(SOURCES[name], "needs_data", True)


PAIRS = [(env_id, source) for env_id in ENV_IDS for source, spec in SOURCES.items()
         if TASK_OF[env_id] in _tasks(spec)]
SPLITS = ("train", "test")
HDFS_HEADER = re.compile(r"^\d{6} \d{6} \d+ (INFO|WARN) dfs\.[\w$]+: ", re.MULTILINE)
MISSING_LOGHUB_SYSTEMS = {"HealthApp", "Mac", "OpenSSH", "Proxifier"}  # shared/data/loghub/README.md


def _load_mirror_module():
    spec = importlib.util.spec_from_file_location("_rlog_tests_mirror", REPO_ROOT / "tests" / "datasets" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_mirror = _load_mirror_module().serve_mirror


def rlog(capsys, *args) -> tuple[int, str, str]:
    """Run ``rlog ARGS`` in-process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _norm(text: str) -> str:
    return " ".join(text.split())


def _table(text: str, title: str) -> list[list[str]]:
    """The body rows of the rich table titled ``title``, a wrapped cell's lines joined."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("└"):
            break
        if not line.startswith("│"):  # borders, and the header row (┃)
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0] == "" and rows:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def sizes(data_dir) -> dict[tuple[str, str], dict]:
    """What ``rlog envs`` should say about each finite (real) source, from load_source."""
    out = {}
    for env_id, source in PAIRS:
        loaded = {split: load_source(source, TASK_OF[env_id], split=split, data_dir=data_dir) for split in SPLITS}
        if not all(getattr(s, "finite", True) for s in loaded.values()):
            continue  # an endless stream (the simulator's train split) has no size to compare
        out[(env_id, source)] = {
            "train": len(loaded["train"]), "test": len(loaded["test"]),
            "domains": sorted(set(loaded["train"].domains) | set(loaded["test"].domains)),
        }
    assert {source for _, source in out} >= set(REAL_SOURCES)
    return out


@pytest.fixture
def no_data_dir(monkeypatch):
    monkeypatch.delenv("RLOG_DATA_DIR", raising=False)


def test_output_goes_to_the_current_stdout(data_dir):
    """Output must go to ``sys.stdout`` as it is when ``main`` runs (redirect_stdout, capsys,
    notebooks), not to the stream that was ``sys.stdout`` when rlog_env.cli was imported."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["data", "verify", "hdfs", "--dir", str(data_dir)])
    assert code == 0
    assert "hdfs: all" in out.getvalue(), "rlog printed to the sys.stdout of import time"


# -- rlog envs --------------------------------------------------------------------------------

def test_envs_table(capsys, data_dir, sizes):
    code, out, _ = rlog(capsys, "envs", "--data-dir", data_dir)
    assert code == 0
    rows = _table(out, "rlog environments")
    assert {r[0] for r in rows} == set(ENV_IDS)
    assert {(r[0], r[1]) for r in rows} == set(PAIRS) and len(rows) == len(PAIRS)
    assert {r[1] for r in rows} >= set(REAL_SOURCES)
    got = {(r[0], r[1]): (int(r[2]), int(r[3]), _norm(r[4])) for r in rows if (r[0], r[1]) in sizes}
    assert got == {pair: (s["train"], s["test"], _norm(", ".join(s["domains"]))) for pair, s in sizes.items()}
    overlaps = _table(out, "known overlaps between sources")
    assert [(r[0], _norm(r[1])) for r in overlaps] == [(f"{a} / {b}", _norm(text)) for a, b, text in KNOWN_OVERLAPS]


def test_envs_json(capsys, data_dir, sizes):
    code, out, _ = rlog(capsys, "envs", "--json", "--data-dir", data_dir)
    assert code == 0
    data = json.loads(out)
    got = {(r["environment"], r["source"]): {k: r[k] for k in ("train", "test", "domains")}
           for r in data["environments"]}
    assert set(got) == set(PAIRS) and len(data["environments"]) == len(PAIRS)
    assert {pair: got[pair] for pair in sizes} == sizes
    assert not any("unavailable" in r for r in data["environments"])
    assert data["overlaps"] == [{"sources": [a, b], "overlap": text} for a, b, text in KNOWN_OVERLAPS]


def test_envs_without_a_data_dir_marks_the_data_sets_unavailable(capsys, no_data_dir):
    code, out, _ = rlog(capsys, "envs")
    assert code == 0
    rows = _table(out, "rlog environments")
    assert {(r[0], r[1]) for r in rows} == set(PAIRS) and {r[0] for r in rows} == set(ENV_IDS)
    for r in rows:
        if _needs_data(r[1]):
            assert r[2] == r[3] == "-" and r[4].startswith("unavailable"), r
            assert "RLOG_DATA_DIR" in r[4]
        else:
            assert "unavailable" not in r[4], r
    assert {r[1] for r in rows if r[4].startswith("unavailable")} == {s for _, s in PAIRS if _needs_data(s)}
    code, out, _ = rlog(capsys, "envs", "--json")
    assert code == 0
    rows = json.loads(out)["environments"]
    assert {(r["environment"], r["source"]) for r in rows} == set(PAIRS)
    for r in rows:
        if _needs_data(r["source"]):
            assert r["train"] is None and r["test"] is None and "RLOG_DATA_DIR" in r["unavailable"], r
        else:
            assert "unavailable" not in r, r


# -- rlog show --------------------------------------------------------------------------------

def _episode(data_dir, env_id="RLog/LogParsing-v0", source=None, **reset):
    env = gym.make(env_id, source=source, data_dir=data_dir)
    prompt, info = env.reset(**reset)
    sample = env.unwrapped.source[info["index"]]
    env.close()
    return prompt, info, sample


def test_show_prints_messages_reference_and_its_reward(capsys, data_dir):
    code, out, _ = rlog(capsys, "show", "RLog/LogParsing-v0", "--index", 3, "--data-dir", data_dir)
    assert code == 0
    _, info, sample = _episode(data_dir, options={"index": 3})  # the default source, as rlog's
    assert f"RLog/LogParsing-v0 - {info['source']}/train sample 3" in out
    flat = _norm(out)
    for role in ("system", "user"):
        (message,) = [m for m in info["messages"] if m["role"] == role]
        assert f"{role} message" in out
        assert _norm(message["content"]) in flat, role
    reference_section = out.split("reference ─")[-1]
    assert sample.reference in reference_section
    (scores,) = _table(out, "what the reference scores")
    assert scores[:3] == ["1.1000", "0.1000", "1.0000"]


def test_show_json(capsys, data_dir):
    code, out, _ = rlog(capsys, "show", "RLog/LogParsing-v0", "--index", 3, "--json", "--data-dir", data_dir)
    assert code == 0
    data = json.loads(out)
    prompt, info, sample = _episode(data_dir, options={"index": 3})
    assert data["prompt"] == prompt
    assert data["messages"] == info["messages"] and [m["role"] for m in data["messages"]] == ["system", "user"]
    assert data["reference"] == sample.reference
    assert data["index"] == 3 and data["source"] == info["source"] and data["split"] == "train"
    assert data["reference_reward"]["total"] == pytest.approx(1.1)
    assert data["reference_reward"]["format"] == pytest.approx(0.1)
    assert data["reference_reward"]["answer"] == pytest.approx(1.0)


def test_show_with_a_seed_is_reproducible(capsys, data_dir):
    args = ("show", "RLog/LogParsing-v0", "--seed", 5, "--data-dir", data_dir)
    first, second = rlog(capsys, *args), rlog(capsys, *args)
    assert first[0] == 0 and first[1] and first == second
    code, out, _ = rlog(capsys, *args, "--json")
    data = json.loads(out)
    prompt, info, _ = _episode(data_dir, seed=5)
    assert data["seed"] == 5 and data["index"] == info["index"] and data["prompt"] == prompt
    assert f"sample {info['index']}" in first[1]


def test_show_an_hdfs_session(capsys, data_dir):
    code, out, _ = rlog(capsys, "show", "RLog/AnomalyDetection-v0", "--source", "hdfs", "--index", 0,
                        "--data-dir", data_dir)
    assert code == 0
    _, _, sample = _episode(data_dir, "RLog/AnomalyDetection-v0", "hdfs", options={"index": 0})
    lines = sample.logs.split("\n")
    assert len(lines) > 1 and all(line in out for line in lines)
    assert len(HDFS_HEADER.findall(out)) >= len(lines)
    assert "hdfs/train sample 0" in out and sample.reference in out.split("reference ─")[-1]
    (scores,) = _table(out, "what the reference scores")
    assert scores[0] == "1.1000"


def test_show_seed_and_index_together_is_a_usage_error(capsys, data_dir):
    with pytest.raises(SystemExit) as caught:
        cli.main(["show", "RLog/LogParsing-v0", "--seed", "1", "--index", "2", "--data-dir", str(data_dir)])
    assert caught.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_show_unknown_environment(capsys, data_dir):
    code, out, err = rlog(capsys, "show", "RLog/Nope-v0", "--data-dir", data_dir)
    assert code == 2 and out == ""
    assert err.startswith("rlog: error:") and "RLog/Nope-v0" in err
    assert all(env_id in err for env_id in ENV_IDS)


def test_show_without_a_data_dir(capsys, no_data_dir):
    code, out, err = rlog(capsys, "show", "RLog/LogParsing-v0", "--source", "loghub")
    assert code == 2 and out == ""
    assert "RLOG_DATA_DIR" in err and "--data-dir" in err
    assert len(err.strip().splitlines()) == 1


# -- rlog score -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["<think>x</think><answer>normal</answer>",
                                    "<think>x</think><answer>abnormal</answer>", "normal"])
def test_score_is_the_environment_reward(capsys, data_dir, answer):
    code, out, _ = rlog(capsys, "score", "RLog/AnomalyDetection-v0", "--index", 0, "--answer", answer,
                        "--data-dir", data_dir)
    assert code == 0
    data = json.loads(out)
    env = gym.make("RLog/AnomalyDetection-v0", data_dir=data_dir)
    env.reset(options={"index": 0})
    _, reward, _, _, info = env.step(answer)
    env.close()
    assert data["reward"] == info["reward"] and data["reward"]["total"] == reward
    assert data["reference"] == info["reference"] and data["index"] == 0


# -- rlog check --------------------------------------------------------------------------------

def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop(BASE_URL_ENV, None)
    return env


def _console_script() -> list[str]:
    """The installed ``rlog`` script (next to this Python if not on PATH), else ``-m``."""
    found = shutil.which("rlog") or shutil.which("rlog", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "rlog_env.cli"]


CHECK_TITLE = "rlog check (reasoning=think-first, reward=rlog)"
CHECK_OK = "every reference earns the top reward and every empty answer the bottom"


@pytest.fixture
def short_endless_check(monkeypatch):
    """An endless source (the simulator's train stream) is checked on its first episodes; fewer
    here, so that the finite sources, walked whole, take most of the time."""
    monkeypatch.setattr(cli, "ENDLESS_CHECK", 50, raising=False)


@pytest.fixture(scope="module")
def check_rows() -> dict:
    """The rows the table check printed, for the JSON check to compare with."""
    return {}


def test_check_says_every_reference_earns_the_top_reward(capsys, short_endless_check, data_dir, check_rows):
    code, out, err = rlog(capsys, "check", "--data-dir", data_dir)
    assert code == 0, err[-3000:]
    assert CHECK_OK in out
    rows = _table(out, CHECK_TITLE)
    assert {(r[0], r[1]) for r in rows} == set(PAIRS)
    assert {(r[0], r[1], r[2]) for r in rows} == {(e, s, split) for e, s in PAIRS for split in SPLITS}
    assert len(rows) == 2 * len(PAIRS) and all(r[5] == "ok" for r in rows), [r for r in rows if r[5] != "ok"]
    check_rows.update({(r[0], r[1], r[2]): r for r in rows})


def test_check_json_rows_match(capsys, short_endless_check, data_dir, sizes, check_rows):
    code, out, err = rlog(capsys, "check", "--json", "--data-dir", data_dir)
    assert code == 0, err[-3000:]
    data = json.loads(out)
    assert data["failed"] == 0 and data["reasoning"] == "think-first" and data["reward"] == "rlog"
    got = {(r["environment"], r["source"], r["split"]): r for r in data["rows"]}
    assert len(got) == len(data["rows"])
    assert set(got) == {(e, s, split) for e, s in PAIRS for split in SPLITS}
    for (env_id, source, split), row in got.items():
        if (env_id, source) in sizes:  # a finite source is walked whole
            assert row["samples"] == sizes[(env_id, source)][split]
        assert row["failed"] == 0 and row["samples"] > 0
        if TASK_OF[env_id] in ("log_parsing", "anomaly_detection"):  # the top reward: +0.1 + 1.0
            assert row["min_reference_reward"] == pytest.approx(1.1), (env_id, source, split)
        if (key := check_rows.get((env_id, source, split))) is not None:  # the table agrees
            samples = f"first {row['samples']} (endless)" if row.get("endless") else str(row["samples"])
            assert key[3:6] == [samples, f"{row['min_reference_reward']:.4f}", "ok"]
    assert {s for _, s, _ in got} >= set(REAL_SOURCES)


# -- rlog data --------------------------------------------------------------------------------

@pytest.fixture
def mirror(data_dir, monkeypatch):
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")  # loopback must never go through a proxy
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    with serve_mirror(data_dir) as state:
        yield state


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_data_download_verify_and_a_corrupted_byte(capsys, mirror, data_dir, tmp_path):
    root = tmp_path / "data"
    paths = [e.path for e in DATASETS["hdfs"]]
    code, out, err = rlog(capsys, "data", "download", "hdfs", "--to", root, "--base-url", mirror.url,
                          "--retries", 0)
    assert code == 0, err
    assert verify("hdfs", root) == []
    assert all((root / p).read_bytes() == (data_dir / p).read_bytes() for p in paths)
    assert [p.relative_to(root).as_posix() for p in _files_under(root)] == sorted(paths)
    flat = _norm(out)
    assert f"{len(paths)} file(s) fetched" in flat and "verified by sha256" in flat
    assert _norm(LICENCES["hdfs"].summary) in flat and _norm(LICENCES["hdfs"].citation) in flat
    assert "SOSP 2009" in flat and "MIT" in flat
    assert f"RLOG_DATA_DIR={root.resolve()}" in flat
    assert all(f"fetched  {p}" in err for p in paths)  # progress, one line per file, on stderr

    code, out, err = rlog(capsys, "data", "download", "hdfs", "--to", root, "--base-url", mirror.url, "--json")
    assert code == 0
    again = json.loads(out)
    assert again["fetched"] == [] and again["verified"] == paths
    assert again["licence"] == LICENCES["hdfs"].summary and again["citation"] == LICENCES["hdfs"].citation

    code, out, _ = rlog(capsys, "data", "verify", "hdfs", "--dir", root)
    assert code == 0 and f"hdfs: all {len(paths)} files present and verified" in out

    victim = root / "hdfs_anomaly" / "hdfs_train"
    data = bytearray(victim.read_bytes())
    data[1234] ^= 0x01
    victim.write_bytes(bytes(data))
    code, out, _ = rlog(capsys, "data", "verify", "hdfs", "--dir", root)
    assert code == 1
    (problem,) = [line for line in out.splitlines() if "sha256" in line]
    assert problem.startswith("hdfs_anomaly/hdfs_train: expected sha256 ")
    assert "hdfs: 1 problem(s)" in out
    code, out, _ = rlog(capsys, "data", "verify", "hdfs", "--dir", root, "--json")
    assert code == 1 and json.loads(out)["problems"] == [problem]


def test_data_download_from_a_mirror_without_the_files(capsys, mirror, tmp_path):
    root = tmp_path / "data"
    code, out, err = rlog(capsys, "data", "download", "hdfs", "--to", root,
                          "--base-url", mirror.url + "/no/such/prefix", "--retries", 0)
    assert code == 1 and out == ""
    assert "rlog: error:" in err and "HTTP 404" in err
    assert all(e.path in err for e in DATASETS["hdfs"])
    assert _files_under(tmp_path) == []


def _missing_loghub_lines() -> list[str]:
    return [f"{e.path}: missing" for e in DATASETS["loghub"] if e.path.split("/")[1] in MISSING_LOGHUB_SYSTEMS]


def test_data_verify_loghub_on_shared_data(capsys, data_dir):
    code, out, _ = rlog(capsys, "data", "verify", "loghub", "--dir", data_dir)
    assert code == 1
    problems = [line for line in out.splitlines() if not line.startswith("loghub: ")]
    expected = _missing_loghub_lines()
    assert problems == expected and len(expected) >= 4
    assert {line.split("/")[1] for line in problems} == MISSING_LOGHUB_SYSTEMS
    assert f"loghub: {len(expected)} problem(s)" in out


def test_data_verify_as_a_console_script(data_dir):
    for command in (_console_script(), [sys.executable, "-m", "rlog_env.cli"]):
        proc = subprocess.run(command + ["data", "verify", "loghub", "--dir", str(data_dir), "--json"],
                              capture_output=True, text=True, timeout=60, env=_subprocess_env())
        assert proc.returncode == 1, proc.stderr[-3000:]
        data = json.loads(proc.stdout)
        assert data["problems"] == _missing_loghub_lines()
        assert data["files"] == len(DATASETS["loghub"])


def test_envs_lists_the_investigation_environments(capsys, no_data_dir):
    code, out, _ = rlog(capsys, "envs", "--json")
    assert code == 0
    rows = json.loads(out)["investigations"]
    ids = list(rlog_env.envs.INVESTIGATION_ENVIRONMENTS)
    assert [r["environment"] for r in rows if r["source"] == "sim"] == ids
    assert all(r["train"] is None and r["test"] == 200 for r in rows if r["source"] == "sim")
    real = [r for r in rows if r["source"] == "loghub"]
    assert len(real) == 3 and all("RLOG_DATA_DIR" in r["unavailable"] for r in real)  # no data directory here
    code, out, _ = rlog(capsys, "envs")
    assert "RLog/RootCauseInvestigation-v0" in out and "investigation environments" in out


def test_envs_lists_real_investigations_with_a_data_dir(capsys, data_dir):
    code, out, _ = rlog(capsys, "envs", "--json", "--data-dir", data_dir)
    real = [r for r in json.loads(out)["investigations"] if r["source"] == "loghub"]
    assert code == 0 and [(r["train"], r["test"]) for r in real] == [(77, 12)] * 3
