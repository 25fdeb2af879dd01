"""The investigation environments: Gymnasium API, seeding, conformance, hostile turns, no leak.

Every id × format × scheme: the reference answer at turn one earns the top, garbage and
truncation the bottom, every step reward and every return lies in the documented range. Over
300 episodes of every id nothing before the final step carries the incident's truth, and the
tools' outputs are the same on an incident whose truth was erased. Hostile turns never raise,
keep rewards in range and take under 100 ms.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar  # at module level: dataclasses resolve ClassVar annotations here

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlog_env
from rlog_env._times import iso
from rlog_env.datasets.sim.incident_model import IncidentTruth
from rlog_env.datasets.sim.tools import TOOL_NAMES, run_tool
from rlog_env.envs import INVESTIGATION_ENVIRONMENTS, default_env_ids
from rlog_env.envs.investigation_env import END_OBSERVATION, LAST_TURN_NOTE
from rlog_env.tasks import FORMATS, INVESTIGATIONS, SCHEMES

REPO_ROOT = Path(__file__).resolve().parents[2]
IDS = [cls.env_id for cls in INVESTIGATIONS.values()]
SCHEME_NAMES = [name for name, scheme in SCHEMES.items() if scheme.scores_investigations]
SMALL = {"lines": 1_000, "components": 4}
TOP = {"rlog": 1.1, "unit": 1.0}
BOTTOM = {"rlog": -2.0, "unit": 0.0}
LIST = '<tool_call>{"name": "list_components", "arguments": {}}</tool_call>'


def make(env_id, **kwargs):
    kwargs.setdefault("difficulty", SMALL)
    return gym.make(env_id, **kwargs)


def call(name, **arguments) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def test_registered_opt_in_with_gymnasium():
    assert IDS == ["RLog/IncidentDetection-v0", "RLog/FaultLocalization-v0", "RLog/RootCauseInvestigation-v0"]
    for env_id in IDS:
        assert env_id in gym.registry and env_id in INVESTIGATION_ENVIRONMENTS
        assert gym.registry[env_id].max_episode_steps is None  # the environment truncates itself
        assert env_id not in default_env_ids() and env_id not in rlog_env.ENVIRONMENTS
    assert len(default_env_ids()) == 5


@pytest.mark.parametrize("env_id", IDS)
def test_make_without_arguments_and_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        observation, info = env.reset(seed=0)
        assert len(info["messages"]) == 2 and info["tools"][0]["function"]["name"] == "list_components"
        assert observation == info["messages"][0]["content"] + "\n\n" + info["messages"][1]["content"]
        check_env(env.unwrapped)
        # A random string from the action space is a final answer: scored, never raised on.
        env.reset(seed=1)
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert terminated and not truncated and reward == -2.0
    assert env.unwrapped.__doc__.count("Version history") == 1


def _episode_digest(env_id: str, seed: int) -> str:
    """Everything a scripted episode shows and returns, hashed."""
    env = make(env_id)
    h = hashlib.sha256()
    observation, info = env.reset(seed=seed)
    h.update(json.dumps([observation, info], sort_keys=True).encode())
    components = [line.split(" | ")[0] for line in
                  env.step(LIST)[0].splitlines()[3:-1]]  # the table's rows
    turns = [call("count", pattern="error|fail|refused", by="minute"),
             call("search", pattern="error", limit=5) + call("templates", component=components[0]),
             call("view", component=components[-1], line=3, before=2, after=2)]
    for turn in turns:
        h.update(json.dumps(env.step(turn), sort_keys=True, default=str).encode())
    h.update(json.dumps(env.step("<think>x</think><answer>{}</answer>"), sort_keys=True, default=str).encode())
    return h.hexdigest()


_CHILD = """
import sys
sys.path.insert(0, {here!r})
from test_investigation import _episode_digest
for env_id, seed in {cases!r}:
    print(_episode_digest(env_id, seed))
"""


def test_same_seed_same_episode_in_fresh_processes():
    cases = [(env_id, seed) for env_id in IDS for seed in (0, 11)]
    here = [_episode_digest(env_id, seed) for env_id, seed in cases]
    assert len(set(here)) == len(here)
    code = _CHILD.format(here=os.path.dirname(__file__), cases=cases)
    for hashseed in ("0", "777"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             timeout=300, env={**os.environ, "PYTHONHASHSEED": hashseed})
        assert out.stdout.split() == here


def test_splits_and_domains():
    def texts(split, domains):
        env = make(IDS[0], split=split, domains=domains)
        seen = set()
        for index in range(15):
            env.reset(options={"index": index})
            seen.add(hashlib.sha256("\n".join(env.unwrapped._incident.lines.texts).encode()).hexdigest())
        return seen
    assert not texts("train", "seen") & texts("test", "seen")
    env = make(IDS[2], domains="unseen")
    for index in range(10):
        env.reset(options={"index": index})
        *_, info = env.step("<answer>{}</answer><think>x</think>")
        assert info["unseen"] is True
    env = make(IDS[2])
    for index in range(10):
        env.reset(options={"index": index})
        *_, info = env.step("x")
        assert info["unseen"] is False
    assert len(make(IDS[0], split="test").unwrapped.incidents) == 200


@pytest.mark.parametrize("kwargs, match", [
    ({"reward": "hardened"}, "scores investigations"), ({"reasoning": "json"}, "reasoning expects"),
    ({"max_steps": 0}, "max_steps expects"), ({"step_cost": -0.1}, "step_cost expects"),
    ({"split": "dev"}, "split expects"), ({"source": "loglm"}, "source expects one of 'sim', 'loghub'"),
    ({"domains": ["nosuchfamily"]}, "domains expects"), ({"difficulty": "extreme"}, "difficulty expects"),
    ({"max_observation_chars": 10}, "max_observation_chars expects"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make(IDS[0], **kwargs)
    with pytest.raises(TypeError, match="unknown option"):
        gym.make(IDS[0], granularity="line")


def test_step_before_reset_and_after_end():
    env = make(IDS[0])
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step("x")
    env.reset(seed=0)
    env.step("x")
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(LIST)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="decode token ids"):
        env.unwrapped.step(b"x")


# -- conformance ---------------------------------------------------------------------------------
def _documented(task, max_steps):
    return task.step_range, task.return_range(max_steps)


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@pytest.mark.parametrize("reasoning", FORMATS)
@pytest.mark.parametrize("env_id", IDS)
def test_conformance(env_id, reasoning, scheme):
    env = make(env_id, reasoning=reasoning, reward=scheme, max_steps=5, step_cost=0.05)
    task = env.unwrapped.task
    (step_low, step_high), (return_low, return_high) = _documented(task, 5)
    assert (step_low, step_high) == (BOTTOM[scheme], TOP[scheme]) == env.unwrapped.reward_range
    assert return_low == (-2.2 if scheme == "rlog" else 0.0) and return_high == TOP[scheme]
    for index in range(8):
        # The reference at turn one earns the top; info["reference"] is its answer text.
        env.reset(options={"index": index})
        facts = env.unwrapped._case.facts
        _, reward, terminated, truncated, info = env.step(task.reference_completion(facts))
        assert (reward, terminated, truncated) == (TOP[scheme], True, False)
        assert info["reference"] == task.reference_text(facts) and info["metrics"]["score"] == 1.0
        # Garbage (under "none" every non-blank turn is well formed): the bottom.
        env.reset(options={"index": index})
        _, reward, terminated, _, _ = env.step("" if reasoning == "none" else "no idea </answer><think>")
        assert reward == BOTTOM[scheme] and terminated
        # Truncation: tool turns to the end, the truncating step at the bottom.
        env.reset(options={"index": index})
        total, rewards = 0.0, []
        for turn in range(1, 6):
            observation, reward, terminated, truncated, info = env.step(LIST)
            rewards.append(reward)
            total += reward
            if turn == 4:
                assert observation.endswith(LAST_TURN_NOTE)
        assert truncated and not terminated and info["truncated_by"] == "max_steps"
        assert observation == END_OBSERVATION and rewards[-1] == BOTTOM[scheme]
        assert rewards[:-1] == [task.tool_turn_reward()] * 4
        assert return_low <= total <= return_high and total == pytest.approx(return_low if scheme == "rlog" else 0)
        # The reference after tool turns: the top less the cost.
        env.reset(options={"index": index})
        env.step(LIST)
        env.step(LIST)
        _, reward, *_ = env.step(task.reference_completion(facts))
        expected = TOP[scheme] - (0.1 if scheme == "unit" else 0.0)
        assert reward == pytest.approx(expected)


@pytest.mark.parametrize("env_id", IDS)
def test_random_policies_stay_in_range(env_id):
    rng = np.random.default_rng(0)
    for scheme in SCHEME_NAMES:
        env = make(env_id, reward=scheme, max_steps=6, step_cost=0.2)
        task = env.unwrapped.task
        (step_low, step_high), (return_low, return_high) = _documented(task, 6)
        for episode in range(25):
            env.reset(seed=episode)
            total, done = 0.0, False
            while not done:
                name = TOOL_NAMES[int(rng.integers(len(TOOL_NAMES)))]
                turn = rng.choice([call(name, pattern="error", component="x"), call(name), LIST,
                                   '<answer>{"abnormal": true, "components": ["a"], "category": "disk full"}</answer>',
                                   "<think>t</think><answer>{\"abnormal\": false}</answer>"])
                _, reward, terminated, truncated, _ = env.step(str(turn))
                assert step_low <= reward <= step_high
                total += reward
                done = terminated or truncated
            assert return_low - 1e-9 <= total <= return_high


def test_observation_budget_truncates():
    env = make(IDS[0], max_observation_chars=5_000)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(call("search", pattern="a", limit=50) * 2)
    assert truncated and not terminated and reward == -2.0
    assert info["truncated_by"] == "max_observation_chars"
    assert info["metrics"]["observation_chars"] > 5_000


def test_unit_cost_never_below_zero():
    env = make(IDS[0], reward="unit", step_cost=0.5, max_steps=6)
    env.reset(options={"index": 0})
    for _ in range(3):
        env.step(LIST)
    _, reward, terminated, _, info = env.step(env.unwrapped.task.reference_completion(env.unwrapped._case.facts))
    assert terminated and reward == 0.0 and info["reward"]["cost"] == 1.0


# -- what the episode reports ------------------------------------------------------------------
def test_messages_tool_calls_and_metrics():
    env = make(IDS[2])
    observation, info = env.reset(options={"index": 3})
    turn = LIST + call("nope") + '<tool_call>{"name": "search", "arguments": {"pattern": }</tool_call>'
    observation, reward, terminated, truncated, info = env.step(turn)
    assert not terminated and not truncated and reward == -0.01
    assert observation.count("<tool_response>") == 3 and "unknown tool" in observation and "malformed JSON" in observation
    roles = [m["role"] for m in info["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "tool"]
    assert info["tool_calls"] == [{"name": "list_components", "arguments": {}}, {"name": "nope", "arguments": {}}]
    assert len(info["tool_errors"]) == 1 and info["turn"] == 1
    facts = env.unwrapped._case.facts
    assert facts["faults"]  # incident 3 has a fault
    fault = facts["faults"][0]
    env.step(call("view", component=fault["component"], around=iso(fault["onset"], exact=True), after=24))
    _, _, terminated, _, info = env.step("<think>x</think><answer>not json</answer>")
    metrics = info["metrics"]
    assert terminated and info["reward"] == {"total": -0.9, "format": 0.1, "answer": -1.0, "cost": 0.0}
    assert metrics["answer_valid"] is False and metrics["score"] is None
    assert (metrics["turns"], metrics["tool_turns"], metrics["tool_calls"], metrics["tool_errors"]) == (3, 2, 3, 2)
    assert metrics["observation_chars"] > 1_000
    assert 0 < metrics["evidence_recall"] <= 1
    healthy = next(i for i in range(50) if not make(IDS[2]).unwrapped.incidents[i].truth.faults)
    env.reset(options={"index": healthy})
    assert env.step("x")[-1]["metrics"]["evidence_recall"] is None
    assert info["parsed_answer"] == "not json"
    rendered = gym.make(IDS[0], render_mode="ansi", difficulty=SMALL)
    rendered.reset(seed=0)
    rendered.step(LIST)
    assert "--- tool list_components ---" in rendered.render()


# -- hostile turns -----------------------------------------------------------------------------
def _hostile_turns():
    long_line_pattern = "(a+)+$"
    return [
        "<tool_call>{not json</tool_call>", "<tool_call></tool_call>", "<tool_call>",
        call("drop_database"), call("search"), call("search", pattern=1), call("view", component="x"),
        call("search", pattern="x" * 1_000_000), call("search", pattern=long_line_pattern * 20),
        call("count", pattern="a|" * 500), call("search", pattern="\x00\ud800 \udfff"),
        '<tool_call>{"name": "search", "arguments": "{\\"pattern\\": \\"error\\"}"}</tool_call>',
        LIST * 1_000, "<tool_call>" * 5_000 + LIST + "</tool_call>" * 5_000,
        "<tool_call>" + "[" * 100_000 + "</tool_call>", "<tool_call>" + "{\"a\":" * 50_000 + "</tool_call>",
        call("view", component="apache-1", around="99:99"), call("search", pattern="a", start="2099-01-01T00:00:00Z"),
        call("view", component="\ud800", line=10**30), call("templates", component=None, limit=-5),
        "\ud800<tool_call>\x00" + LIST, "<answer><tool_call>" + LIST + "</answer>",
    ]


@pytest.mark.parametrize("env_id", IDS)
def test_hostile_turns_never_raise_stay_in_range_and_fast(env_id):
    env = gym.make(env_id)  # the default incident: 10,000 lines
    env.reset(seed=5)
    low, high = env.unwrapped.reward_range
    env.step(LIST)  # build the incident's index once
    slowest = 0.0
    for turn in _hostile_turns():
        env.reset(seed=5)
        start = time.perf_counter()
        observation, reward, terminated, truncated, info = env.step(turn)
        slowest = max(slowest, time.perf_counter() - start)
        assert low <= reward <= high and env.observation_space.contains(observation)
        json.dumps(info)  # plain data
    assert slowest < 0.1, slowest


# -- no leak -------------------------------------------------------------------------------------
def _secrets(env) -> list[str]:
    base = env.unwrapped
    facts = base._case.facts
    out = [base.task.reference_text(facts)]
    for fault in base._incident.truth.faults:
        out += [fault.fault_id, fault.fault_id.split(".", 1)[1], fault.root_cause]
    out += [f'"{fault["onset"]}"' for fault in facts["faults"]]
    return out


def _policy_turns(rng, components) -> list[str]:
    turns = []
    for _ in range(int(rng.integers(1, 4))):
        pick = int(rng.integers(5))
        component = str(rng.choice(components))
        turns.append([LIST, call("search", pattern=str(rng.choice(["error", "fail|refused", "warn", "*"])), limit=50),
                      call("view", component=component, line=int(rng.integers(1, 50)), before=24, after=24),
                      call("count", by=str(rng.choice(["component", "minute", "level"]))),
                      call("templates", component=component, limit=50)][pick])
    return turns


@pytest.mark.parametrize("env_id", IDS)
def test_no_truth_before_the_final_step(env_id):
    """The brief is the alert plus text that is the same for every incident; every tool output is
    what the same call gives on the incident with its truth erased; the rest of ``info`` names
    neither a secret nor the fault's category."""
    env = make(env_id)
    rng = np.random.default_rng(7)
    vocabulary = "Fault categories: " + "; ".join(env.unwrapped.incidents.categories) + "."
    constant = set()
    for episode in range(300):
        observation, info = env.reset(seed=episode)
        incident, secrets = env.unwrapped._incident, _secrets(env)
        labels = [fault.category for fault in incident.truth.faults]
        erased = dataclasses.replace(incident, truth=IncidentTruth((), False, ()))
        assert set(info) == {"messages", "tools", "task", "source", "split", "index", "domain", "meta",
                             "incident_id", "turn", "max_steps"}
        assert info["domain"] == "seen" and info["meta"] == {"id": info["incident_id"]}
        system, brief = (m["content"] for m in info["messages"])
        assert observation == f"{system}\n\n{brief}" and brief.endswith(vocabulary)
        alert, rest = brief.split("\n", 1)
        constant.add((system, rest.split("UTC).", 1)[1]))
        private = [alert, json.dumps({k: v for k, v in info.items() if k != "messages"})]
        shown = [brief]  # the system message is the same for every incident (checked below)
        for turn in _policy_turns(rng, [c.name for c in incident.components]):
            observation, _, terminated, truncated, info = env.step(turn)
            assert not (terminated or truncated)
            assert set(info) == {"messages", "tools", "turn", "tool_calls", "tool_errors"}
            responses = [m["content"] for m in info["messages"][-len(info["tool_calls"]):]]
            for content, request in zip(responses, info["tool_calls"]):
                assert content == run_tool(erased, request["name"], request["arguments"]).text
            assert observation == "\n".join(f"<tool_response>\n{c}\n</tool_response>" for c in responses)
            shown.append(observation)
            private.append(json.dumps({k: v for k, v in info.items() if k != "messages"}))
        for secret in secrets:
            assert all(secret not in text for text in shown + private), secret
        for label in labels:
            assert all(label not in text for text in private), label
        env.step("<answer>{}</answer>")
    assert len(constant) == 1  # the system message, the request and the vocabulary never vary


def test_the_readme_episode():
    """The README's abridged investigation is this episode, with these figures."""
    readme = (REPO_ROOT / "README.md").read_text()
    env = gym.make(IDS[2], split="test", difficulty="easy")
    brief, _ = env.reset(options={"index": 0})
    assert "Alert: An error-rate alert fired on spark-1 (host spark-66) at about 20:28 UTC." in brief
    pattern = "error|fail|refused|timeout"
    first = env.step(call("count", pattern=pattern, by="component"))[0]
    second = env.step(call("search", pattern=pattern, component="spark-1", limit=5))[0]
    assert "spark-1: 6\nkubernetes-1: 5\nhdfs-1: 4" in first and "#523 20:27:11.282 ERROR" in second
    answer = ('<think>spark-1 fails first, fetching shuffle blocks from mesos-slave-73:7337.</think><answer>'
              '{"category": "connection refused", "component": "spark-1", "onset": "20:27:11", "cause": "The '
              'external shuffle service on mesos-slave-73 refuses connections on port 7337."}</answer>')
    _, reward, terminated, _, info = env.step(answer)
    assert terminated and f"reward {reward:.3f} = format 0.1 + score {info['metrics']['score']:.3f}" in readme
    assert f"return {reward - 0.02:.3f}; evidence_recall {info['metrics']['evidence_recall']:.2f}" in readme
    assert info["reference"].startswith('{"category": "connection refused", "component": "spark-1", "onset": '
                                        '"2017-07-18T20:27:11.282498Z"')


def test_add_an_investigation_task_from_outside():
    """CONTRIBUTING's "Add an investigation task", step by step, with public functions only."""
    from rlog_env.envs import register_investigation_environment, unregister_investigation_environment
    from rlog_env.tasks import Investigation, register_investigation, unregister_investigation

    @dataclass(frozen=True)
    class FaultCount(Investigation):
        name: ClassVar[str] = "fault_count"
        env_id: ClassVar[str] = "Toy/FaultCount-v0"
        title: ClassVar[str] = "Fault count"
        summary: ClassVar[str] = "count the faults"
        question: ClassVar[str] = "How many faults are there?"
        answer_fields: ClassVar[str] = 'The answer is {"faults": <a number>}.'
        weights: ClassVar[dict] = {"faults": 1.0}
        manual_reward: ClassVar[str] = "Answer score: 1 for the right count."

        def reference(self, facts):
            return {"faults": len(facts["faults"])}

        def elements(self, answer, case):
            return {"faults": float(answer.get("faults") == len(case.facts["faults"]))}

        def answer_of(self, diagnosis):
            return {"faults": len(diagnosis.get("components") or []) if diagnosis.get("faulty") else 0}

    before = (dict(INVESTIGATIONS), dict(INVESTIGATION_ENVIRONMENTS), set(gym.registry))
    register_investigation(FaultCount)
    try:
        register_investigation_environment("fault_count")
        try:
            env = gym.make("Toy/FaultCount-v0", difficulty=SMALL, max_steps=3)
            assert "Fault count: count the faults" in env.unwrapped.__doc__
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                check_env(env.unwrapped)
            task = env.unwrapped.task
            for index in range(5):
                env.reset(options={"index": index})
                assert env.step(task.reference_completion(env.unwrapped._case.facts))[1] == task.final_range[1]
                env.reset(options={"index": index})
                assert env.step("")[1] == task.final_range[0]
                env.reset(options={"index": index})
                rewards = [env.step(LIST)[1] for _ in range(3)]
                assert rewards == [-0.01, -0.01, -2.0] and sum(rewards) >= task.return_range(3)[0]
        finally:
            unregister_investigation_environment("Toy/FaultCount-v0")
    finally:
        unregister_investigation("fault_count")
    assert (dict(INVESTIGATIONS), dict(INVESTIGATION_ENVIRONMENTS), set(gym.registry)) == before
