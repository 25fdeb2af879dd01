"""The investigation baselines: the scripted investigator beats both trivial ones on the test
split, seen and unseen, by a paired bootstrap interval that excludes zero; every answer is in
the agent's format; turns are read from the conversation alone; bad use is a clear error."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents.base import Observation
from rlog_env.agents.baselines import (INVESTIGATORS, TRIVIAL_INVESTIGATORS, AnswerNowAgent, NotFittedError,
                                       RandomToolsAgent, ScriptedInvestigator)
from rlog_env.agents.registry import make_agent
from rlog_env.datasets.incidents import open_incidents
from rlog_env.tasks import FORMATS, INVESTIGATIONS, parse_completion
from rlog_env.tasks.investigation import read_answer

IDS = [cls.env_id for cls in INVESTIGATIONS.values()]
EPISODES = 30
RESAMPLES = 2_000


@pytest.fixture(scope="module")
def scripted() -> ScriptedInvestigator:
    train = open_incidents("sim", "train", "seen", difficulty={"lines": 2_000})
    return ScriptedInvestigator().fit(train[i] for i in range(300))


def play(agent, env, index: int) -> tuple[float, dict, list[str]]:
    """One episode: its return, the last step's info and every turn the agent wrote."""
    observation, info = env.reset(options={"index": index})
    total, turns = 0.0, []
    while True:
        turn = agent.act([Observation.from_reset(observation, info)])[0]
        turns.append(turn)
        observation, reward, terminated, truncated, step = env.step(turn)
        info = {**info, **step}
        total += reward
        if terminated or truncated:
            return total, step, turns


def paired_interval(a, b, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of mean(a - b) over paired episodes."""
    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(RESAMPLES, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


@pytest.mark.parametrize("domains", ["seen", "unseen"])
@pytest.mark.parametrize("env_id", IDS)
def test_scripted_beats_every_trivial_baseline_on_the_test_split(scripted, env_id, domains):
    env = gym.make(env_id, split="test", domains=domains)
    returns = {agent.name: [play(agent, env, i)[0] for i in range(EPISODES)]
               for agent in (scripted, AnswerNowAgent(), RandomToolsAgent())}
    for trivial in TRIVIAL_INVESTIGATORS:
        low, high = paired_interval(returns["scripted-investigator"], returns[trivial])
        assert low > 0, (trivial, low, high, {k: np.mean(v) for k, v in returns.items()})


@pytest.mark.parametrize("reasoning", FORMATS)
def test_every_answer_is_in_the_agents_format(scripted, reasoning):
    agents = [make_agent(name, reasoning=reasoning) for name in INVESTIGATORS]
    agents[0] = ScriptedInvestigator(reasoning=reasoning)
    agents[0].__dict__.update({k: v for k, v in vars(scripted).items() if k.endswith("_")})
    for env_id in IDS:
        env = gym.make(env_id, reasoning=reasoning, difficulty={"lines": 1_000}, max_steps=6)
        for agent in agents:
            for index in range(3):
                _, info, turns = play(agent, env, index)
                if agent.name == "random-tools":
                    assert info["truncated_by"] == "max_steps" and all("<tool_call>" in t for t in turns)
                    continue
                parsed = parse_completion(turns[-1], reasoning)
                assert parsed.well_formed and read_answer(parsed.answer) is not None, turns[-1]
                assert info["metrics"]["answer_valid"] and info["parsed_answer"] == parsed.answer


def test_turns_are_read_from_the_conversation_alone(scripted):
    """A batch may hold episodes at different turns, in any order: each gets the turn it would
    get alone."""
    envs = [gym.make(IDS[2], split="test") for _ in range(3)]
    alone = [play(scripted, env, i)[2] for i, env in enumerate(envs)]
    observations = []
    for i, env in enumerate(envs):
        observation, info = env.reset(options={"index": i})
        for turn in alone[i][:i]:  # episode i is i turns in
            observation, _, _, _, step = env.step(turn)
            info = {**info, **step}
        observations.append(Observation.from_reset(observation, info))
    assert scripted.act(observations[::-1]) == [alone[i][i] for i in (2, 1, 0)]


def test_the_answer_now_and_random_tools_baselines():
    env = gym.make(IDS[0], difficulty={"lines": 1_000})
    total, info, turns = play(AnswerNowAgent(), env, 0)
    assert len(turns) == 1 and json.loads(info["parsed_answer"]) == {"abnormal": False}
    a = play(RandomToolsAgent(), env, 0)[2]
    assert a == play(RandomToolsAgent(), env, 0)[2] and len(set(a)) > 1  # seeded, and not one call


def test_bad_use_is_a_clear_error(scripted):
    with pytest.raises(NotFittedError, match="call fit"):
        ScriptedInvestigator().act([])
    with pytest.raises(ValueError, match="expects incidents"):
        ScriptedInvestigator().fit(["not an incident"])
    with pytest.raises(ValueError, match="no training incidents"):
        ScriptedInvestigator().fit([])
    one_step = gym.make("RLog/AnomalyDetection-v0")
    observation = Observation.from_reset(*one_step.reset(seed=0))
    for agent in (scripted, AnswerNowAgent(), RandomToolsAgent()):
        with pytest.raises(ValueError, match="investigation agents play the investigation environments"):
            agent.act([observation])
