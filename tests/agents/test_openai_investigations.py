"""The OpenAI agent investigates against a loopback server that speaks OpenAI tool calling:
native (``tools=``, ``tool_calls``, ``tool`` messages with ``tool_call_id``) and the text
convention; through the environment and through ``rlog eval``'s runner."""

from __future__ import annotations

import json

import gymnasium as gym

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents.base import Observation
from rlog_env.agents.openai_agent import OpenAIAgent
from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.leaderboard.results import read_results
from rlog_env.leaderboard.runner import rescore, run
from rlog_env.leaderboard.tables import leaderboard

FINAL = '<think>Nothing stands out.</think><answer>{"abnormal": false, "category": "none", "components": []}</answer>'


def native_model(server, body):
    """A tool-calling model: list the components, then count by component (once with arguments
    that are not JSON), then answer. Checks what the conversation it receives looks like."""
    messages = body["messages"]
    assert body["tools"] == TOOL_SCHEMAS
    asked = [m for m in messages if m["role"] == "assistant"]
    for message in asked:
        assert "<tool_call>" not in (message["content"] or "") and message["tool_calls"]
    ids = [call["id"] for m in asked for call in m["tool_calls"]]
    answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert answered == ids  # every call answered, in order, by its id
    turn = len(asked)
    if turn == 0:
        calls = [("list_components", "{}")]
    elif turn == 1:
        assert "component | host | family" in messages[-1]["content"]
        calls = [("count", json.dumps({"pattern": "error", "by": "component"})), ("count", "{not json")]
    else:
        return 200, {"choices": [{"message": {"role": "assistant", "content": FINAL}}],
                     "usage": {"prompt_tokens": 40, "completion_tokens": 7, "total_tokens": 47}}, 0
    tool_calls = [{"id": f"srv{turn}{k}", "type": "function", "function": {"name": n, "arguments": a}}
                  for k, (n, a) in enumerate(calls)]
    return 200, {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": tool_calls}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}, 0


def text_model(server, body):
    """A model without tool calling: it writes the text convention itself."""
    assert "tools" not in body and all(isinstance(m["content"], str) for m in body["messages"])
    assert {m["role"] for m in body["messages"]} <= {"system", "user", "assistant"}
    if not any(m["content"].startswith("<tool_response>") for m in body["messages"]):
        content = '<tool_call>{"name": "list_components", "arguments": {}}</tool_call>'
    else:
        content = FINAL
    return 200, {"choices": [{"message": {"role": "assistant", "content": content}}]}, 0


def play(agent, env, index):
    observation, info = env.reset(options={"index": index})
    turns = []
    while True:
        turn = agent.act([Observation.from_reset(observation, info)])[0]
        assert agent.last_errors_ == [None]
        turns.append(turn)
        observation, reward, terminated, truncated, step = env.step(turn)
        info = {**info, **step}
        if terminated or truncated:
            return turns, step


def test_native_tool_calling_through_the_environment(serve):
    server = serve(native_model)
    agent = OpenAIAgent("tool-model", server.base_url)
    env = gym.make("RLog/RootCauseInvestigation-v0", difficulty={"lines": 1_000})
    turns, info = play(agent, env, 0)
    assert len(turns) == 3 and turns[-1] == FINAL and info["metrics"]["answer_valid"]
    assert info["metrics"]["tool_calls"] == 2 and info["metrics"]["tool_errors"] == 1  # the call that was not JSON
    assert turns[1].count("<tool_call>") == 2 and len(server.requests) == 3


def test_the_text_convention(serve):
    server = serve(text_model)
    agent = OpenAIAgent("plain-model", server.base_url, tool_calling="text")
    turns, info = play(agent, gym.make("RLog/IncidentDetection-v0", difficulty={"lines": 1_000}), 1)
    assert len(turns) == 2 and info["reward"]["format"] == 0.1 and len(server.requests) == 2


def test_rlog_eval_runs_a_tool_calling_server(serve, tmp_path):
    server = serve(native_model)
    agent = OpenAIAgent("tool-model", server.base_url, name="tool-model")
    ids = ["RLog/IncidentDetection-v0", "RLog/FaultLocalization-v0", "RLog/RootCauseInvestigation-v0"]
    run_dir = run([agent], ids, episodes=3, batch_size=2, run_dir=tmp_path / "run", difficulty="easy")
    records = list(read_results(run_dir))
    assert len(records) == 9 and all(len(r["turns"]) == 3 and r["error"] is None for r in records)
    assert all(r["turns"][1]["tool_calls"][0]["name"] == "count" for r in records)
    assert rescore(run_dir) == [] and len(server.requests) == 27
    assert [t["usage"]["prompt_tokens"] for t in records[0]["turns"]] == [10, 10, 40]
    cell = leaderboard(records)["rows"][0]["tasks"]["RootCauseInvestigation"]["metrics"]
    assert cell["context_tokens"] == 40 and cell["completion_tokens"] == 17  # the model's own counts
