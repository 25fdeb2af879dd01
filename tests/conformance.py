"""The conformance checks every environment must pass (DESIGN.md, "Conventions"), as functions.

``tests/envs/test_conformance.py`` runs them over every registered task x source x format x
scheme; ``tests/test_extending.py`` runs the same functions on a task and a source registered
from outside the package. Every expectation is read from the task (``reward_range``,
``top_reward``) and its scheme, never from a table keyed by a task's name.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Iterable

import gymnasium as gym
import pytest

from rlog_env.tasks import Sample

EPS = 1e-9


def check_step_info(env: gym.Env, info: dict, reward: float) -> None:
    """``step``'s ``info``: the reward parts add up to the returned reward, inside the range."""
    lo, hi = env.unwrapped.reward_range
    assert math.isfinite(reward) and lo - EPS <= reward <= hi + EPS, (reward, (lo, hi))
    parts = info["reward"]
    assert set(parts) >= {"total", "format", "answer"}
    assert parts["total"] == reward
    assert parts["total"] == pytest.approx(parts["format"] + parts["answer"], abs=1e-12)
    assert isinstance(info["metrics"], dict)
    assert isinstance(info["reference"], str)
    assert info["parsed_answer"] is None or isinstance(info["parsed_answer"], str)
    assert isinstance(info["unseen"], bool)


def score(env: gym.Env, index: int, completion: str) -> tuple[float, dict]:
    """The reward and ``info`` of answering sample ``index`` with ``completion``."""
    env.unwrapped.reset(options={"index": index})
    _, reward, terminated, truncated, info = env.unwrapped.step(completion)
    assert terminated is True and truncated is False
    check_step_info(env, info, reward)
    return reward, info


def other_answers(task, sample: Sample) -> list[str]:
    """Completions other than the reference, in and out of the task's format."""
    ref = sample.reference
    words = ref.split()
    bodies = ["normal", "abnormal", "<*>", ref[: len(ref) // 2], " ".join(words[:-1]),
              ref + " and some extra words", " ".join(reversed(words)), "x " * 50]
    out = [task.reference_completion(replace(sample, reference=b)) for b in bodies if b.strip()]
    out += ["", "normal", ref, "<think>a</think><answer>" + ref + "</answer>",
            "<answer>" + ref + "</answer><think>a</think>"]
    return out


def check_reference_tops(env: gym.Env, indices: Iterable[int]) -> None:
    """On every sample of ``indices`` the reference completion earns ``task.top_reward``."""
    base = env.unwrapped
    task = base.task
    failures = []
    for i in indices:
        sample = base.source[i]
        reward, info = score(env, i, task.reference_completion(sample))
        top = task.top_reward(sample)
        if abs(reward - top) > EPS:
            failures.append((i, sample.meta.get("id"), reward, top))
        assert info["reference"] == sample.reference
    assert not failures, f"{len(failures)} references below the top reward, e.g. {failures[:5]}"


def check_top_bottom_and_range(env: gym.Env, indices: Iterable[int]) -> None:
    """The reference tops, the empty and the untagged answers earn the bottom of the range,
    and no other answer beats the reference."""
    base = env.unwrapped
    task = base.task
    scheme = task.scheme
    lo, hi = base.reward_range
    assert lo == scheme.format_bad + scheme.answer_bad
    for i in indices:
        sample = base.source[i]
        top = task.top_reward(sample)
        assert top <= hi + EPS
        ref_reward, _ = score(env, i, task.reference_completion(sample))
        assert ref_reward == pytest.approx(top, abs=EPS), (i, sample.meta.get("id"))

        # the bottom: an empty completion, and (with tags expected) text without tags
        for blank in ("", "  \n\t "):
            reward, _ = score(env, i, blank)
            assert reward == lo
        if task.reasoning != "none":
            for untagged in ("normal", sample.reference):
                reward, info = score(env, i, untagged)
                assert reward == lo, (untagged[:60], reward)
                assert info["reward"]["format"] == scheme.format_bad

        for other in other_answers(task, sample):
            reward, _ = score(env, i, other)
            assert reward <= ref_reward + EPS, (i, other[:80], reward, ref_reward)


def check_same_seed_same_episode(make: Callable[[], gym.Env]) -> None:
    """Two environments made alike draw the same episodes from the same seed."""
    a, b = make(), make()
    first = [a.reset(seed=7)[1]["index"]] + [a.reset()[1]["index"] for _ in range(5)]
    second = [b.reset(seed=7)[1]["index"]] + [b.reset()[1]["index"] for _ in range(5)]
    assert first == second
    assert a.reset(seed=7)[0] == b.reset(seed=7)[0]


def check_index_walk(make_split: Callable[[str], gym.Env], walk: Callable) -> dict[str, set]:
    """An index walk of each split gives each sample once, out-of-range indices raise an
    ``IndexError`` naming the range, and the splits share no sample. Returns the ids by split."""
    ids_by_split = {}
    for split in ("train", "test"):
        env = make_split(split)
        base = env.unwrapped
        ids = []
        for i in walk(base):
            _, info = env.reset(options={"index": i})
            assert info["index"] == i and info["split"] == split
            assert info["meta"]["split"] == split and info["meta"]["index"] == i
            ids.append(info["meta"]["id"])
        assert len(ids) == len(set(ids)), f"duplicate meta ids in {split}"
        ids_by_split[split] = set(ids)
        n = len(base)
        for bad in (n, n + 10, -1):
            with pytest.raises(IndexError) as excinfo:
                env.reset(options={"index": bad})
            message = str(excinfo.value)
            assert f"< {n}" in message and "0 <=" in message and str(bad) in message
    assert not ids_by_split["train"] & ids_by_split["test"]
    return ids_by_split
