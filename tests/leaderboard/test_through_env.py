"""The runner plays episodes through the environment: what it records is what ``step`` returns.

Every baseline on every environment, on the simulator and on each real source's whole test
split; then each recorded answer is stepped through a fresh environment and must earn the
recorded reward, to the bit. A run recorded before the runner played through the environment
(``data/run_66215eb``, main at 66215eb) rescores with no difference.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import pytest

from rlog_env.agents.baselines import BUILTIN_AGENTS
from rlog_env.datasets import SOURCES
from rlog_env.envs import ENVIRONMENTS
from rlog_env.leaderboard.results import read_header, read_results
from rlog_env.leaderboard.runner import rescore, run

PRE_CHANGE_RUN = Path(__file__).parent / "data" / "run_66215eb"


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_recorded_reward_is_what_step_returns(tmp_path, data_dir, source):
    run_dir = run(list(BUILTIN_AGENTS), source=source, split="test", data_dir=data_dir,
                  run_dir=tmp_path / "run")
    config = read_header(run_dir)["config"]
    options = {"domains": config["domains"]} if config["domains"] else {}
    envs: dict[tuple[str, str], gym.Env] = {}
    cells = set()
    for record in read_results(run_dir):
        key = (record["env"], record["reasoning"])
        if key not in envs:
            envs[key] = gym.make(record["env"], source=source, split="test", data_dir=data_dir,
                                 reasoning=record["reasoning"], **options)
        env = envs[key]
        observation, _ = env.reset(options={"index": record["index"]})
        assert observation == record["observation"]
        _, reward, terminated, truncated, step = env.step(record["answer"])
        assert terminated or truncated
        assert step["reward"] == record["reward"] and reward == record["reward"]["total"]
        assert step["reference"] == record["reference"]
        assert step["parsed_answer"] == record["parsed_answer"]
        assert step["unseen"] == record["unseen"]
        cells.add((record["agent"], record["env"]))
    served = {env_id for env_id, cls in ENVIRONMENTS.items() if SOURCES[source].serves(cls.task_name)}
    assert cells == {(agent, env_id) for agent in BUILTIN_AGENTS for env_id in served}


def test_a_run_recorded_before_the_runner_stepped_rescores_without_difference(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(PRE_CHANGE_RUN, run_dir)
    records = list(read_results(run_dir))
    assert len(records) == 20 and {r["agent"] for r in records} == {"heuristic", "echo"}
    assert rescore(run_dir) == []
    # and an edited reward is caught
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"total": ', '"total": 9', 1)
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    differences = rescore(run_dir)
    assert len(differences) == 1 and differences[0]["index"] == records[3]["index"]


class _AskTwice(gym.Wrapper):
    """An environment whose episodes take two steps: the first answer is met with a question
    (reward 0, not ended), the second is scored by the environment inside."""

    def reset(self, **kwargs):
        self.asked = False
        return self.env.reset(**kwargs)

    def step(self, action):
        if not self.asked:
            self.asked = True
            return "Are you sure? Answer again.", 0.0, False, False, {"turn": 1}
        return self.env.step(action)


def test_the_runner_plays_an_episode_of_several_steps_to_its_end():
    from rlog_env.agents.base import FunctionAgent
    from rlog_env.leaderboard.runner import _play_batch

    seen = []

    def agent(prompt: str) -> str:
        seen.append(prompt)
        label = "abnormal" if prompt.startswith("Are you sure") else "normal"
        return f"<think>second look</think><answer>{label}</answer>"

    envs = [_AskTwice(gym.make("RLog/AnomalyDetection-v0", split="test")) for _ in range(3)]
    records = _play_batch(FunctionAgent(agent), envs, [0, 1, 2])
    assert len(seen) == 6 and seen[3:] == ["Are you sure? Answer again."] * 3
    plain = gym.make("RLog/AnomalyDetection-v0", split="test")
    for index, record in enumerate(records):
        assert record["answer"].endswith("<answer>abnormal</answer>") and record["index"] == index
        plain.reset(options={"index": index})
        assert record["reward"] == plain.step(record["answer"])[-1]["reward"]
        assert record["observation"] == seen[index]  # the episode's first observation
