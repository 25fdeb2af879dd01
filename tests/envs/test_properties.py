"""Property tests: any string action, however hostile, is scored and leaves the environment usable.

Over every task x reasoning format x source x reward scheme (the simulator always; LogHub,
LogLM and HDFS where the task has them and the data directory holds them, skipped otherwise;
``grounded`` where it applies), hypothesis builds actions from deliberately hostile pieces —
empty text, NUL bytes, unpaired surrogates, control characters, right-to-left and zero-width
marks, long whitespace runs after ``<``, the four tags nested, repeated, unclosed, spaced and in
capitals — alongside random text, laid out in and out of the expected format and repeated up to
megabytes. Each step must return a finite float reward within the task's documented range and
never raise; a following reset and step must give the prompt and the reward a fresh episode
gives. The investigation environments take turns of hostile tool calls the same way.
Derandomised, so CI sees the same examples on every run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlog_env.datasets import SOURCES
from rlog_env.datasets.sim.tools import TOOL_NAMES
from rlog_env.tasks import FORMATS, INVESTIGATIONS, SCHEMES, TASKS, get_task

REPO_ROOT = Path(__file__).resolve().parents[2]
TOP = {name: 0.1 + cls.rlog_answer_range[1] for name, cls in TASKS.items()}  # the tasks' own ranges
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])
INDICES = 5  # samples each combination steps through (the example number picks one)


def documented_range(task_name: str, scheme: str) -> tuple[float, float]:
    """The reward range the environment docstrings state."""
    return (0.0, 1.0) if scheme == "unit" else (-2.0, TOP[task_name])


def _applies(task_name: str, source: str, scheme: str) -> bool:
    # the scheme's own check ("grounded" scores free text by key facts, which only some sources carry)
    try:
        SCHEMES[scheme].check_source(get_task(task_name, reward=scheme), SOURCES[source])
    except ValueError:
        return False
    return True


MATRIX = [(task, source, reasoning, scheme)
          for task in TASKS for source, spec in SOURCES.items() if task in spec.tasks
          for reasoning in FORMATS for scheme in SCHEMES if _applies(task, source, scheme)]


def _data_dir() -> Path | None:
    chosen = os.environ.get("RLOG_DATA_DIR")
    path = Path(chosen).expanduser() if chosen else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


_ENVS: dict[tuple, gym.Env] = {}


def make(task: str, source: str, reasoning: str, scheme: str) -> gym.Env:
    """A cached ``gymnasium.make`` environment (with Gymnasium's checker wrappers); a real source
    whose data is missing is skipped, naming what is missing."""
    key = (task, source, reasoning, scheme)
    if key not in _ENVS:
        data_dir = _data_dir()
        if SOURCES[source].needs_data and data_dir is None:
            pytest.skip(f"no data directory for {source}: set RLOG_DATA_DIR")
        try:
            _ENVS[key] = gym.make(get_task(task).env_id, source=source, data_dir=data_dir,
                                  split="test", reasoning=reasoning, reward=scheme)
        except FileNotFoundError as error:
            pytest.skip(f"{source} data missing: {error}")
    return _ENVS[key]


@pytest.fixture(scope="module", autouse=True)
def _close_envs():
    yield
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


# -- hostile pieces ----------------------------------------------------------------------------------
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<ANSWER>", "</Answer>", "<THINK>",
        "</Think>", "< answer >", "</ answer>", "<answer\t>", "< / think >", "<answer", "answer>",
        "</", "<", ">", "<answer><answer>", "</answer></answer>", "<think><answer>",
        "</answer></think>", "<answer>normal</answer><answer>abnormal</answer>"]
MARKS = ["\u202e", "\u202d", "\u202b", "\u202a", "\u202c", "\u200f", "\u200e", "\u061c",
         "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\u200b", "\u200d", "\u2060",
         "\ufffd", "\U0010ffff", "\u0301"]
WORDS = ["normal", "abnormal", "Abnormal", "<*>", "*", "blk_<*>", "<*>:<*>", "the", "disk",
         "full", "error", "10.0.0.1", "ＡＢＣ", "日志", " ", "\n", "\t", "\r\n", "\x00"]

PIECE = st.one_of(
    st.sampled_from(TAGS),
    st.sampled_from(MARKS),
    st.sampled_from(WORDS),
    st.characters(categories=["Cs"]),  # unpaired surrogates
    st.characters(categories=["Cc"]),  # control characters, NUL among them
    st.integers(1, 3000).map(lambda n: "<" + " " * n),  # whitespace run after "<"
    st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
)
SOUP = st.lists(PIECE, max_size=20).map("".join)


def _laid_out(reasoning: str, think: str, answer: str) -> str:
    if reasoning == "think-first":
        return f"<think>{think}</think><answer>{answer}</answer>"
    if reasoning == "answer-first":
        return f"<answer>{answer}</answer><think>{think}</think>"
    return answer


HOSTILE = st.one_of(
    st.just(""),
    SOUP,
    st.builds(_laid_out, st.sampled_from(FORMATS), SOUP, SOUP),  # the right shape, hostile inside
    st.builds(lambda soup, n: (soup * n)[:60_000], SOUP, st.integers(2, 5000)),  # long
    st.builds(lambda reasoning, soup, n: _laid_out(reasoning, soup, (soup * n)[:60_000]),
              st.sampled_from(FORMATS), SOUP, st.integers(2, 5000)),
)


# -- the checks ------------------------------------------------------------------------------------
def check_step(env: gym.Env, task_name: str, scheme: str, action: str) -> None:
    """Step ``action``; then reset the same sample and step its reference completion."""
    base = env.unwrapped
    index = len(action) % INDICES
    observation, _ = env.reset(options={"index": index})
    _, reward, terminated, truncated, info = env.step(action)
    low, high = documented_range(task_name, scheme)
    assert base.reward_range == (low, high)
    assert isinstance(reward, float) and math.isfinite(reward), reward
    assert low <= reward <= high, (reward, (low, high))
    assert terminated is True and truncated is False
    assert info["reward"]["total"] == reward
    assert all(math.isfinite(v) for v in info["reward"].values())
    # still usable: the same prompt again, and the reward a fresh episode gives
    again, _ = env.reset(options={"index": index})
    assert again == observation
    sample = base.source[index]
    completion = base.task.reference_completion(sample)
    _, reward, terminated, _, _ = env.step(completion)
    assert terminated and reward == base.task.reward_for(completion, sample).total
    assert low <= reward <= high


def _envs() -> list[tuple[gym.Env, str, str]]:
    """Every combination's environment, its task and scheme; real sources without data skipped."""
    out = []
    for task_name, source, reasoning, scheme in MATRIX:
        if SOURCES[source].needs_data and _data_dir() is None:
            continue
        try:
            out.append((make(task_name, source, reasoning, scheme), task_name, scheme))
        except pytest.skip.Exception:
            continue
    return out


# One test over the whole matrix, not one per combination: hypothesis draws the same derandomised
# examples for every parametrisation of a test, so each action is stepped in every combination.
@settings(max_examples=50, **SETTINGS)
@given(action=HOSTILE)
def test_any_action_is_scored_within_range_everywhere(action):
    for env, task_name, scheme in _envs():
        check_step(env, task_name, scheme, action)


@pytest.mark.parametrize("source", [name for name, spec in SOURCES.items() if spec.needs_data])
def test_real_sources_are_in_the_matrix_or_skipped_cleanly(source):
    combos = [combo for combo in MATRIX if combo[1] == source]
    assert combos
    make(*combos[0])  # skips, naming what is missing, when the data directory lacks it


MEGABYTE = 1_000_000
# Every hostile piece but the tag characters: a megabyte of it inside the tags is judged (the
# metric runs over all of it); with the tags, repeated, it is a megabyte of tag soup.
HOSTILE_TEXT = "".join(MARKS + WORDS + ["\ud800", "\udfff", "\x01\x1f\x7f\x85", "é", " " * 40])


def _megabyte(unit: str) -> str:
    return (unit * (MEGABYTE // len(unit) + 1))[:MEGABYTE]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("task_name", list(TASKS))
def test_megabyte_actions_on_the_simulator(task_name, scheme):
    judged = _megabyte(HOSTILE_TEXT)
    soup = _megabyte("".join(TAGS) + HOSTILE_TEXT + "<" + " " * 200)
    actions = {"judged, think-first": ("think-first", _laid_out("think-first", "t", judged)),
               "judged, none": ("none", judged),
               "tag soup, answer-first": ("answer-first", soup),
               "whitespace run after <": ("think-first", _laid_out("think-first", "t", "a")
                                          + "<" + " " * MEGABYTE + "/")}
    for name, (reasoning, action) in actions.items():
        assert len(action) >= MEGABYTE, name
        check_step(make(task_name, "sim", reasoning, scheme), task_name, scheme, action)


def test_the_matrix_covers_every_task_format_source_and_scheme():
    assert {combo[0] for combo in MATRIX} == set(TASKS)
    assert {combo[2] for combo in MATRIX} == set(FORMATS)
    assert {combo[3] for combo in MATRIX} == set(SCHEMES) >= {"rlog", "unit", "grounded", "hardened"}
    for task_name in TASKS:
        sources = {combo[1] for combo in MATRIX if combo[0] == task_name}
        assert sources == {name for name, spec in SOURCES.items() if task_name in spec.tasks}
    assert len(MATRIX) == 147


# -- investigations: turns of tool calls, hostile inside and out ----------------------------------
ARGUMENT_NAMES = ["pattern", "component", "start", "end", "level", "limit", "around", "line", "before",
                  "after", "by", "arguments", "name"]
ARGUMENT = st.one_of(SOUP, st.integers(-10**20, 10**20), st.none(), st.booleans(),
                     st.floats(allow_nan=True, allow_infinity=True), st.lists(SOUP, max_size=3),
                     st.sampled_from(["error", "*", "a|b", "(a+)+$", "14:05", "apache-1", "minute", "ERROR"]))
TOOL_CALL = st.builds(
    lambda name, arguments: "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>",
    st.one_of(st.sampled_from(TOOL_NAMES), SOUP),
    st.dictionaries(st.one_of(st.sampled_from(ARGUMENT_NAMES), SOUP), ARGUMENT, max_size=4))
TURN = st.one_of(
    HOSTILE,
    TOOL_CALL,
    st.lists(st.one_of(TOOL_CALL, SOUP, st.sampled_from(["<tool_call>", "</tool_call>", "{", "}", '"name"'])),
             max_size=12).map("".join),
)
INVESTIGATION_MATRIX = [(cls.env_id, reasoning, scheme) for cls in INVESTIGATIONS.values() for reasoning in FORMATS
                        for scheme, spec in SCHEMES.items() if spec.scores_investigations]
MAX_STEPS = 4


def _investigation(env_id: str, reasoning: str, scheme: str) -> gym.Env:
    key = (env_id, reasoning, scheme)
    if key not in _ENVS:
        _ENVS[key] = gym.make(env_id, reasoning=reasoning, reward=scheme, max_steps=MAX_STEPS, step_cost=0.1,
                              difficulty={"lines": 1_000, "components": 4})
    return _ENVS[key]


@settings(max_examples=40, **SETTINGS)
@given(turns=st.lists(TURN, min_size=1, max_size=MAX_STEPS + 1))
def test_any_turns_are_answered_within_range_in_every_investigation(turns):
    """Every investigation × format × scheme takes the same hostile turns: each step reward and
    the return lie in the documented ranges, the episode ends by ``max_steps``, nothing raises,
    and a following episode still scores its reference at the top."""
    for env_id, reasoning, scheme in INVESTIGATION_MATRIX:
        env = _investigation(env_id, reasoning, scheme)
        task = env.unwrapped.task
        (low, high), (return_low, return_high) = task.step_range, task.return_range(MAX_STEPS)
        env.reset(options={"index": len(turns)})
        total, done, steps = 0.0, False, 0
        for turn in turns:
            observation, reward, terminated, truncated, info = env.step(turn)
            steps += 1
            assert isinstance(reward, float) and low <= reward <= high, (reward, turn[:200])
            assert env.observation_space.contains(observation)
            total += reward
            done = terminated or truncated
            if done:
                break
        assert steps <= MAX_STEPS and return_low - 1e-9 <= total <= return_high
        env.reset(options={"index": 0})
        _, reward, terminated, *_ = env.step(task.reference_completion(env.unwrapped._case.facts))
        assert terminated and reward == high
