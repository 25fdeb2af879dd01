"""Agents tuned from the command line: `--agent-option KEY=VALUE` reaches every agent that has
the parameter (a misspelt one is an error suggesting the right name); `python:module:callable`
finds the module in the working directory; each record keeps its request's own latency and the
server's finish_reason. Against a real loopback server."""

from __future__ import annotations

import sys

import pytest
from openai_loopback import completion

from rlog_env import cli
from rlog_env.agents.registry import apply_agent_options, make_agent, parse_agent_options
from rlog_env.leaderboard.results import read_header, read_results

ENV = "RLog/AnomalyDetection-v0"


def slow_normal(server, body):
    return 200, completion("<think>routine</think><answer>normal</answer>"), 0.05


def test_rlog_eval_with_agent_options(serve, tmp_path, capsys):
    server = serve(slow_normal)
    spec = f"openai:test-model@{server.base_url}"
    code = cli.main(["eval", "--agents", spec, "heuristic", "--envs", ENV, "--episodes", "6",
                     "--agent-option", "max_concurrency=1", "--agent-option", "timeout=300",
                     "--agent-option", "max_tokens=64", "--run-dir", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    assert server.max_in_flight == 1 and {r["max_tokens"] for r in server.requests} == {64}
    records = [r for r in read_results(tmp_path / "run") if r["agent"] == spec]
    assert len(records) == 6 and {r["finish_reason"] for r in records} == {"stop"}
    assert all(0.05 <= r["latency_s"] < 5 for r in records)  # each request's own time
    assert read_header(tmp_path / "run")["config"]["agent_options"] == {"max_concurrency": 1, "timeout": 300,
                                                                        "max_tokens": 64}


def test_a_misspelt_agent_option_suggests_the_right_one(serve, tmp_path, capsys):
    server = serve(slow_normal)
    code = cli.main(["eval", "--agents", f"openai:m@{server.base_url}", "--envs", ENV, "--episodes", "1",
                     "--agent-option", "max_concurency=1", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "'max_concurency'" in err and "did you mean 'max_concurrency'?" in err
    assert not server.requests


def test_option_values_and_where_they_go():
    assert parse_agent_options(["a=1", "b=0.5", "c=true", "d=null", "e=some text", "f=\"7\"", "g=x=y"]) == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": "some text", "f": "7", "g": "x=y"}
    for bad in ("novalue", "=3"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_agent_options([bad])
    openai, heuristic = make_agent("openai:m@http://127.0.0.1:9/v1"), make_agent("heuristic")
    apply_agent_options([openai, heuristic], {"timeout": 5.0, "reasoning": "none"})
    assert openai.timeout == 5.0 and openai.reasoning == heuristic.reasoning == "none"


def test_python_agent_from_the_working_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_agent_here.py").write_text(
        "def answer(prompt):\n    return '<think>x</think><answer>normal</answer>'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_agent_here", raising=False)
    code = cli.main(["eval", "--agents", "python:my_agent_here:answer", "--envs", ENV, "--episodes", "2",
                     "--run-dir", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    assert len(list(read_results(tmp_path / "run"))) == 2 and str(tmp_path) not in sys.path
