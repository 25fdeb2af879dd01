"""TRL's environment factories for the investigations, without training: the tools TRL sees are
the environment's (names, parameters, descriptions; the same outputs), a rollout's return is the
Gymnasium environment's return for the same transcript — an answer, tool turns, a malformed turn,
a rollout cut short, the turn cap —, rows and factories must agree, and bad use is refused with
errors that name the fix. The training run itself is in ``test_trl_multiturn.py``."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.envs.investigation_env import INVESTIGATION_ENVIRONMENTS
from rlog_env.tasks.formats import write_completion
from rlog_env.integrations.trl import (CUT_SHORT, InvestigationReturn, environment_factories, environment_factory,
                                       investigation_rows, max_tool_calling_iterations, transcript_turns, turn_text)

ENVS = list(INVESTIGATION_ENVIRONMENTS)
KWARGS = {"difficulty": "easy"}


def call(name, **arguments):
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def gym_return(env_id, index, turns, kwargs=KWARGS):
    """The Gymnasium environment's return for turn texts written as a model writes them, and its
    last info; a transcript that stops before the episode ends is truncated."""
    env = gym.make(env_id, **kwargs)
    env.reset(options={"index": index})
    total, info = 0.0, {}
    for turn in turns:
        _, reward, terminated, truncated, info = env.step(turn)
        total += reward
        if terminated or truncated:
            return total, info
    return total + env.unwrapped.task.truncation_reward(), info


@pytest.fixture(scope="module")
def rows():
    return {env_id: investigation_rows(env_id, 2, **KWARGS) for env_id in ENVS}


def test_the_tools_trl_reads_are_the_environment_tools():
    transformers = pytest.importorskip("transformers")
    tools = environment_factory(ENVS[0], **KWARGS)()
    for schema in TOOL_SCHEMAS:
        want = schema["function"]
        got = transformers.utils.get_json_schema(getattr(tools, want["name"]))["function"]
        assert got["name"] == want["name"] and got["description"] == want["description"]
        assert got["parameters"].get("required", []) == want["parameters"]["required"]
        assert list(got["parameters"]["properties"]) == list(want["parameters"]["properties"])
        for name, param in want["parameters"]["properties"].items():
            seen = got["parameters"]["properties"][name]
            assert (seen["type"], seen["description"], seen.get("enum")) == (param["type"], param["description"], param.get("enum"))


@pytest.mark.parametrize("env_id", ENVS)
def test_tool_outputs_equal_the_environment_step(env_id, rows):
    tools = environment_factory(env_id, **KWARGS)()
    tools.reset(**rows[env_id][0])
    env = gym.make(env_id, **KWARGS)
    env.reset(options={"index": rows[env_id][0]["index"]})
    calls = [("list_components", {}), ("count", {"pattern": "error", "by": "minute"}),
             ("search", {"pattern": "fail|error", "limit": 3}), ("templates", {"component": "nope"}),
             ("search", {"pattern": "x", "bogus": 1}), ("view", {"component": 5})]
    for name, arguments in calls:
        _, _, _, _, info = env.step(turn_text({"content": "", "tool_calls": [call(name, **arguments)]}))
        assert getattr(tools, name)(**arguments) == info["messages"][-1]["content"]


@pytest.mark.parametrize("env_id", ENVS)
def test_a_rollout_scores_the_gymnasium_return_of_its_transcript(env_id, rows):
    row = rows[env_id][1]
    env = gym.make(env_id, **KWARGS)
    env.reset(options={"index": row["index"]})
    task = env.unwrapped.task
    _, _, _, _, info = env.step("no answer")  # the episode's end shows the reference answer
    reference = write_completion(info["reference"], "The reference answer.", task.reasoning)
    answers = {
        "reference": [{"role": "assistant", "content": reference}],
        "tools then reference": [
            {"role": "assistant", "content": "<think>look</think>", "tool_calls": [call("list_components")]},
            {"role": "tool", "name": "list_components", "content": "…"},
            {"role": "assistant", "content": "", "tool_calls": [call("search", pattern="error"), call("count")]},
            {"role": "tool", "name": "search", "content": "…"}, {"role": "tool", "name": "count", "content": "…"},
            {"role": "assistant", "content": reference}],
        "malformed answer": [{"role": "assistant", "content": "it is the database"}],
        "unparsed tool call": [{"role": "assistant", "content": '<tool_call>{"name": "search", "arg'}],
        "cut short": [{"role": "assistant", "content": "", "tool_calls": [call("list_components")]},
                      {"role": "tool", "name": "list_components", "content": "…"},
                      {"role": "assistant", "content": "", "tool_calls": [call("templates", component="x")]}],
    }
    reward = InvestigationReturn()
    for name, completion in answers.items():
        tools = environment_factory(env_id, **KWARGS)()
        tools.reset(**row)
        turns = [turn_text(m) for m in completion if m["role"] == "assistant"]
        expected, _ = gym_return(env_id, row["index"], turns[:-1] if name == "cut short" else turns)
        assert reward([None], [completion], environments=[tools]) == [expected], name
        assert tools._score(completion) == expected, f"{name}: scoring twice gives the same return"
    assert expected == pytest.approx(-task.step_cost + task.truncation_reward())
    assert tools.last_info["truncated_by"] == CUT_SHORT


def test_the_turn_cap_is_the_environment_truncation(rows):
    env_id = ENVS[0]
    max_steps = 3
    kwargs = {**KWARGS, "max_steps": max_steps}
    assert max_tool_calling_iterations(max_steps) == 2
    row = investigation_rows(env_id, 1, **kwargs)[0]
    tools = environment_factory(env_id, **kwargs)()
    tools.reset(**row)
    # TRL ran 2 tool turns (the cap), then generated a third turn that calls a tool again.
    completion = []
    for _ in range(max_steps):
        completion += [{"role": "assistant", "content": "", "tool_calls": [call("list_components")]},
                       {"role": "tool", "name": "list_components", "content": "…"}]
    completion = completion[:-1]
    turns, unanswered = transcript_turns(completion)
    assert unanswered and len(turns) == max_steps
    expected, info = gym_return(env_id, row["index"], turns, kwargs)
    assert info["truncated_by"] == "max_steps"
    assert tools._score(completion) == expected
    assert tools.last_info["truncated_by"] == "max_steps"


def test_rows_carry_the_brief_and_the_factory_checks_them(rows):
    env_id = ENVS[0]
    row = rows[env_id][0]
    env = gym.make(env_id, **KWARGS)
    _, info = env.reset(options={"index": row["index"]})
    assert row["prompt"] == info["messages"] and row["environment"] == env_id
    assert json.loads(row["env_kwargs"]) == KWARGS
    tools = environment_factory(env_id, **KWARGS)()
    assert tools.reset(**row) is None  # the prompt already holds the brief
    with pytest.raises(ValueError, match="same environment id and arguments"):
        environment_factory(env_id, difficulty="hard")().reset(**row)
    with pytest.raises(ValueError, match="same environment id and arguments"):
        environment_factory(ENVS[1], **KWARGS)().reset(**row)
    with pytest.raises(ValueError, match="'index'"):
        tools.reset(prompt=row["prompt"])
    factories = environment_factories(ENVS, **KWARGS)
    assert list(factories) == ENVS and all(f.env_id == e for e, f in factories.items())


def test_bad_use_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="investigation environment"):
        environment_factory("RLog/AnomalyDetection-v0")
    with pytest.raises(ValueError, match="investigation environment"):
        investigation_rows("RLog/LogParsing-v0", 1)
    with pytest.raises(ValueError, match="JSON values"):
        environment_factory(ENVS[0], data_dir=object())
    with pytest.raises(ValueError):
        environment_factory(ENVS[0], difficulty="impossible")
    with pytest.raises(ValueError, match="environment_factory"):
        InvestigationReturn()([None], ["<answer>{}</answer>"])
    with pytest.raises(ValueError, match="max_steps"):
        max_tool_calling_iterations(0)
    with pytest.raises(RuntimeError, match="before reset"):
        environment_factory(ENVS[0], **KWARGS)().list_components()


def test_every_scored_rollout_is_logged(tmp_path, rows):
    env_id = ENVS[0]
    tools = environment_factory(env_id, **KWARGS)()
    tools.reset(**rows[env_id][0])
    log = tmp_path / "rollouts.jsonl"
    completion = [{"role": "assistant", "content": "", "tool_calls": [call("list_components")]},
                  {"role": "tool", "name": "list_components", "content": "…"},
                  {"role": "assistant", "content": "<think>x</think><answer>{}</answer>"}]
    value = InvestigationReturn(log)([None], [completion], environments=[tools])[0]
    record = json.loads(log.read_text())
    assert record["return"] == value and record["completion"] == completion and record["tool_calls"] == 1
    assert (record["env_id"], record["index"]) == (env_id, rows[env_id][0]["index"])


def test_a_trl_run_does_not_build_an_incident_per_rollout(rows):
    row = rows[ENVS[0]][0]
    factory = environment_factory(ENVS[0], **KWARGS)
    first, second = factory(), factory()
    first.reset(**row)
    second.reset(**row)
    assert first._incident is second._incident
