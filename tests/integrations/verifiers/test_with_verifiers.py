"""verifiers itself (0.3, its classic API): ``load_environment`` for every environment id, and
verifiers' own evaluation — its Python API and ``vf-eval`` — against a loopback
OpenAI-compatible server (tool calling for the investigations), whose rewards must equal
``rlog eval``'s (the runner, through the Gymnasium environments) for the same completions.

Skipped where verifiers is not installed (``pip install -e '.[verifiers,test]'``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

vf = pytest.importorskip("verifiers")
if not hasattr(vf, "SingleTurnEnv"):  # pragma: no cover - verifiers 0.4 dropped the classic names
    pytest.skip("needs verifiers 0.3 (the classic API)", allow_module_level=True)

import gymnasium as gym  # noqa: E402

import rlog_env  # noqa: E402,F401 - registers the environments
from rlog_env.agents.openai_agent import OpenAIAgent  # noqa: E402
from rlog_env.datasets.sim.tools import TOOL_NAMES, TOOL_SCHEMAS  # noqa: E402
from rlog_env.envs.investigation_env import INVESTIGATION_ENVIRONMENTS  # noqa: E402
from rlog_env.integrations.verifiers import environment_ids, load_environment  # noqa: E402
from rlog_env.leaderboard.results import read_results  # noqa: E402
from rlog_env.leaderboard.runner import run  # noqa: E402
from rlog_env.tasks import TASKS  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "agents"))
from openai_loopback import serve  # noqa: E402,F401  (the fixture)

ONE_STEP = tuple(cls.env_id for cls in TASKS.values())
KEY_VAR = "RLOG_LOOPBACK_KEY"
EPISODES = 3
RUN_DOMAINS = ["seen", "unseen"]  # what rlog eval covers on the simulator when no domains are named


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    """The key verifiers' client reads from KEY_VAR (the loopback server takes any)."""
    monkeypatch.setenv(KEY_VAR, "loopback")


def reply(message: dict, usage: bool = True) -> tuple:
    body = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return 200, body, 0


def evaluate(env, server, n: int) -> list[dict]:
    client = vf.ClientConfig(api_base_url=server.base_url, api_key_var=KEY_VAR, max_retries=0)
    results = env.evaluate_sync(client=client, model="test-model", num_examples=n)
    outputs = sorted(results["outputs"], key=lambda o: o["info"]["index"])
    assert len(outputs) == n and all(o.get("error") is None for o in outputs), outputs
    return outputs


def rewards(env) -> dict[str, float]:
    """The rubric's weighted functions (verifiers adds its monitors' metrics at weight 0)."""
    rubrics = getattr(env.rubric, "rubrics", [env.rubric])
    return {f.__name__: w for r in rubrics for f, w in zip(r.funcs, r.weights) if w}


# -- load_environment ----------------------------------------------------------------------------
def test_the_ids_are_the_registered_environments():
    assert set(environment_ids()) == set(ONE_STEP) | set(INVESTIGATION_ENVIRONMENTS)


@pytest.mark.parametrize("env_id", ONE_STEP)
def test_load_environment_for_one_step_tasks(env_id):
    env = load_environment(env_id, episodes=2, split="test")
    assert isinstance(env, vf.SingleTurnEnv)
    assert rewards(env) == {"format_reward": 1.0, "answer_reward": 1.0}
    rows = env.get_eval_dataset().to_list()
    gym_env = gym.make(env_id, split="test")
    for index, row in enumerate(rows):
        _, info = gym_env.reset(options={"index": index})
        assert row["prompt"] == info["messages"] and row["info"]["index"] == index


@pytest.mark.parametrize("env_id", INVESTIGATION_ENVIRONMENTS)
def test_load_environment_for_investigations(env_id):
    env = load_environment(env_id, episodes=2, difficulty="easy", max_steps=5)
    assert isinstance(env, vf.StatefulToolEnv) and env.max_turns == 5
    assert rewards(env) == {"investigation_return": 1.0}
    assert list(env.tool_map) == list(TOOL_NAMES)
    assert [t.model_dump(exclude_none=True) for t in env.tool_defs] == [s["function"] for s in TOOL_SCHEMAS]
    rows = env.get_eval_dataset().to_list()
    gym_env = gym.make(env_id, difficulty="easy", max_steps=5)
    _, info = gym_env.reset(options={"index": 1})
    assert rows[1]["prompt"] == info["messages"] and rows[1]["info"]["rlog"]["incident_id"] == info["incident_id"]


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="environment expects one of"):
        load_environment("RLog/Nope-v0")
    with pytest.raises(ValueError, match="episodes expects"):
        load_environment("RLog/LogParsing-v0", episodes=0)


# -- one-step tasks: verifiers' evaluation = rlog eval ---------------------------------------------
def one_step_model(answers: dict[str, str]):
    """Answers each prompt (keyed by its user message) with the completion the test chose."""
    def behave(server, body):
        return reply({"role": "assistant", "content": answers[body["messages"][-1]["content"]]})
    return behave


def chosen_answers(env_id: str) -> dict[str, str]:
    """Per prompt of the test split's first episodes: the reference, a wrong answer, garbage."""
    env = gym.make(env_id, split="test", domains=RUN_DOMAINS)
    answers = {}
    for index in range(EPISODES):
        _, info = env.reset(options={"index": index})
        _, _, _, _, step = env.step("")
        reference = step["reference"]
        answers[info["messages"][-1]["content"]] = [
            f"<think>I read the logs.</think><answer>{reference}</answer>",
            "<think>A guess.</think><answer>the disk is full on node 7</answer>",
            "lorem ipsum, no tags at all",
        ][index % 3]
    return answers


@pytest.mark.parametrize("env_id", ONE_STEP)
def test_one_step_rewards_equal_rlog_eval(serve, tmp_path, env_id):
    server = serve(one_step_model(chosen_answers(env_id)))
    outputs = evaluate(load_environment(env_id, episodes=EPISODES, split="test", domains=RUN_DOMAINS), server, EPISODES)
    agent = OpenAIAgent("test-model", server.base_url, name="loopback")
    records = sorted(read_results(run([agent], [env_id], episodes=EPISODES, run_dir=tmp_path / "run")),
                     key=lambda r: r["index"])
    assert [r["index"] for r in records] == [o["info"]["index"] for o in outputs] == list(range(EPISODES))
    for output, record in zip(outputs, records):
        assert output["reward"] == record["reward"]["total"]
        assert output["metrics"]["format_reward"] == record["reward"]["format"]
        assert output["metrics"]["answer_reward"] == record["reward"]["answer"]
    assert len({o["reward"] for o in outputs}) > 1  # reference, wrong and garbage are told apart


# -- investigations: tool calling, verifiers' evaluation = rlog eval -------------------------------
FINAL = '<think>Nothing stands out.</think><answer>{"abnormal": false, "category": "none", "components": []}</answer>'


def tool_model(server, body):
    """Lists the components, counts errors by component (and once with arguments that are not
    JSON, once an unknown tool), then answers; checks the conversation verifiers sends."""
    messages = body["messages"]
    assert [t["function"] for t in body["tools"]] == [s["function"] for s in TOOL_SCHEMAS]
    asked = [m for m in messages if m["role"] == "assistant"]
    ids = [call["id"] for m in asked for call in m.get("tool_calls") or ()]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == ids
    turn = len(asked)
    if turn == 0:
        calls = [("list_components", "{}")]
    elif turn == 1:
        assert "component | host | family" in messages[-1]["content"]
        calls = [("count", json.dumps({"pattern": "error", "by": "component"})), ("count", "{not json"),
                 ("no_such_tool", "{}")]
    else:
        return reply({"role": "assistant", "content": FINAL})
    return reply({"role": "assistant", "content": None, "tool_calls": [
        {"id": f"srv{turn}{k}", "type": "function", "function": {"name": n, "arguments": a}}
        for k, (n, a) in enumerate(calls)]})


def stubborn_model(server, body):
    """Never answers: a tool call every turn, until the turn cap ends the episode."""
    turn = sum(m["role"] == "assistant" for m in body["messages"])
    return reply({"role": "assistant", "content": "Looking.", "tool_calls": [
        {"id": f"s{turn}", "type": "function", "function": {"name": "list_components", "arguments": "{}"}}]})


@pytest.mark.parametrize("env_id,behave,max_steps", [
    ("RLog/RootCauseInvestigation-v0", tool_model, 12),
    ("RLog/IncidentDetection-v0", tool_model, 12),
    ("RLog/FaultLocalization-v0", stubborn_model, 3),
])
def test_investigation_returns_equal_rlog_eval(serve, tmp_path, env_id, behave, max_steps):
    server = serve(behave)
    env = load_environment(env_id, episodes=EPISODES, split="test", difficulty="easy", max_steps=max_steps)
    outputs = evaluate(env, server, EPISODES)
    if max_steps == 12:  # the environment's default cap, which rlog eval plays
        agent = OpenAIAgent("test-model", server.base_url, name="loopback")
        records = sorted(read_results(run([agent], [env_id], episodes=EPISODES, difficulty="easy",
                                          run_dir=tmp_path / "run")), key=lambda r: r["index"])
        assert [r["index"] for r in records] == [o["info"]["index"] for o in outputs]
        assert [o["reward"] for o in outputs] == [r["return"] for r in records]
        assert all(o["metrics"]["total_tool_calls"] == 4 for o in outputs)
    else:  # another cap: the same turns stepped through the Gymnasium environment by hand
        expected = []
        for output in outputs:
            gym_env = gym.make(env_id, split="test", difficulty="easy", max_steps=max_steps)
            gym_env.reset(options={"index": output["info"]["index"]})
            total, done, turn = 0.0, False, 0
            while not done:
                turn += 1
                call = {"name": "list_components", "arguments": {}}
                _, r, terminated, truncated, info = gym_env.step(
                    "Looking.\n<tool_call>\n" + json.dumps(call) + "\n</tool_call>")
                total, done = total + r, terminated or truncated
            assert info["truncated_by"] == "max_steps" and turn == max_steps
            expected.append(total)
        assert [o["reward"] for o in outputs] == expected


# -- vf-eval, the command line, on the published package ---------------------------------------
def test_vf_eval_runs_the_published_environment(serve, tmp_path):
    env_id = "RLog/AnomalyDetection-v0"
    server = serve(one_step_model(chosen_answers(env_id)))
    package = ROOT / "environments" / "rlog_env_verifiers"
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    vf_eval = Path(sys.executable).with_name("vf-eval")
    out = subprocess.run(
        [str(vf_eval), "rlog-env-verifiers", "-a", json.dumps({"environment": env_id, "episodes": EPISODES, "split": "test", "domains": RUN_DOMAINS}),
         "-m", "test-model", "--api-base-url", server.base_url, "--api-key-var", KEY_VAR, "-n", str(EPISODES),
         "-r", "1", "--disable-tui", "--save-results", "--output-dir", str(tmp_path / "vf"), "--disable-env-server"],
        capture_output=True, text=True, timeout=300, env=environ, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    saved = list((tmp_path / "vf").rglob("results.jsonl"))
    assert saved, out.stdout[-2000:]
    rows = sorted((json.loads(line) for line in saved[0].read_text().splitlines()), key=lambda r: r["info"]["index"])
    gym_env = gym.make(env_id, split="test", domains=RUN_DOMAINS)
    answers = chosen_answers(env_id)
    for row in rows:
        _, info = gym_env.reset(options={"index": row["info"]["index"]})
        _, reward, _, _, _ = gym_env.step(answers[info["messages"][-1]["content"]])
        assert row["reward"] == reward
