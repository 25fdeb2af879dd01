"""The environments as Gymnasium sees them: the env checker, registration, vector
environments, the spaces, hostile actions, rendering and argument errors."""

from __future__ import annotations

import math
import subprocess
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlog_env
from rlog_env.envs.log_env import episode_index
from rlog_env.datasets import SOURCES
from rlog_env.tasks import TASKS, get_task

# Every source that serves a task, from the registry: a new source joins the matrix by itself.
SOURCES_BY_TASK = {
    task: tuple(name for name, spec in SOURCES.items() if task in spec.tasks) for task in TASKS
}
TASK_SOURCES = [(task, source) for task, sources in SOURCES_BY_TASK.items() for source in sources]
ENV_ID = {task: get_task(task).env_id for task in SOURCES_BY_TASK}
SPLITS = ("train", "test")


def ts_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-{pair[1]}"


def test_every_task_has_a_registered_id():
    assert set(rlog_env.ENV_IDS) == set(ENV_ID.values())
    for env_id in rlog_env.ENV_IDS:
        assert env_id in gym.registry


# -- the env checker ------------------------------------------------------------------------

@pytest.mark.parametrize("pair", TASK_SOURCES, ids=ts_id)
def test_check_env_passes_without_warnings(data_dir, pair):
    task, source = pair
    env = gym.make(ENV_ID[task], source=source, data_dir=data_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("pair", TASK_SOURCES, ids=ts_id)
def test_make_with_env_checker_and_stepping_gives_no_warnings(data_dir, pair):
    task, source = pair
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(ENV_ID[task], source=source, data_dir=data_dir)
        for seed in (0, 1):
            env.reset(seed=seed)
            env.step("<think>because</think><answer>normal</answer>")
        env.reset()
        env.step("")
        env.close()
    assert [str(w.message) for w in caught] == []


def test_make_with_module_prefix_in_fresh_process(data_dir, subprocess_env, python):
    script = (
        "import sys, gymnasium as gym\n"
        "assert 'rlog_env' not in sys.modules\n"
        f"env = gym.make('rlog_env:RLog/AnomalyDetection-v0', data_dir={str(data_dir)!r})\n"
        "obs, info = env.reset(seed=0)\n"
        "_, r, term, trunc, _ = env.step('<think>x</think><answer>normal</answer>')\n"
        "assert isinstance(obs, str) and term and isinstance(r, float)\n"
        "print('ok', info['task'])\n"
    )
    proc = subprocess.run([python, "-c", script], env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", "anomaly_detection"]


# -- vector environments --------------------------------------------------------------------

def _actions_for(single, indices, step_no):
    """Completions for the sub-environments' samples: the reference for some, garbage for others."""
    task = single.unwrapped.task
    out = []
    for k, index in enumerate(indices):
        sample = single.unwrapped.source[int(index)]
        kind = (k + step_no) % 3
        out.append(task.reference_completion(sample) if kind == 0 else
                   "<think>x</think><answer>abnormal</answer>" if kind == 1 else "garbage")
    return out


def _single_scores(single, indices, actions):
    rewards = []
    for index, action in zip(indices, actions):
        single.reset(options={"index": int(index)})
        rewards.append(single.step(action)[1])
    return rewards


def _prompt(single, index):
    return single.reset(options={"index": int(index)})[0]


def _drive_same_step(vec, single, seed, steps=3):
    """Step a same-step vector env and check every step against the single env; return rewards."""
    n = vec.num_envs
    obs, info = vec.reset(seed=seed)
    assert len(obs) == n
    indices = list(info["index"])
    for k in range(n):
        assert obs[k] == _prompt(single, indices[k])
        assert vec.single_observation_space.contains(obs[k])
    all_rewards = []
    for step_no in range(steps):
        actions = _actions_for(single, indices, step_no)
        expected = _single_scores(single, indices, actions)
        obs, rewards, terminated, truncated, info = vec.step(actions)
        assert np.all(terminated) and not np.any(truncated)
        np.testing.assert_array_equal(rewards, np.asarray(expected))
        # same step: every sub-env is already reset and shows a fresh, valid prompt
        indices = list(info["index"])
        for k in range(n):
            assert vec.single_observation_space.contains(obs[k])
            assert obs[k] == _prompt(single, indices[k])
        np.testing.assert_array_equal(info["final_info"]["reward"]["total"], rewards)
        all_rewards.append(np.asarray(rewards).tolist())
    return all_rewards


@pytest.mark.parametrize("pair", [("anomaly_detection", "loghub"), ("log_parsing", "loglm"),
                                  ("root_cause_analysis", "loglm")], ids=ts_id)
def test_make_vec_same_step_autoreset(data_dir, pair):
    task, source = pair
    single = gym.make(ENV_ID[task], source=source, data_dir=data_dir).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vec = gym.make_vec(ENV_ID[task], num_envs=4, source=source, data_dir=data_dir)
        assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
        rewards = _drive_same_step(vec, single, seed=5)
        vec.close()
    assert [str(w.message) for w in caught] == []
    assert len({r for step in rewards for r in step}) > 1  # the answers were scored differently


def test_make_vec_sync_mode_with_same_step_kwargs(data_dir):
    env_id = ENV_ID["anomaly_detection"]
    single = gym.make(env_id, data_dir=data_dir).unwrapped
    vec = gym.make_vec(env_id, num_envs=4, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
                       data_dir=data_dir)
    assert isinstance(vec, gym.vector.SyncVectorEnv)
    entry_point = gym.make_vec(env_id, num_envs=4, data_dir=data_dir)
    assert _drive_same_step(vec, single, seed=9) == _drive_same_step(entry_point, single, seed=9)
    vec.close()
    entry_point.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_in_gymnasiums_next_step_mode_is_a_clear_error(data_dir, mode):
    """Gymnasium's own vector classes default to next-step autoreset, in which every second step
    of a one-step episode would be a reset scoring nothing: the first reset refuses it, naming
    the two ways that work."""
    env_id = ENV_ID["anomaly_detection"]
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, data_dir=data_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the async worker's report of the error, as a warning
            with pytest.raises(ValueError, match=r"make_vec\(id, num_envs=N\).*autoreset_mode.*SameStep"):
                vec.reset(seed=0)
    finally:
        vec.close()
    kwargs = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP, **({"shared_memory": False} if mode == "async" else {})}
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, vector_kwargs=kwargs, data_dir=data_dir)
    try:
        vec.reset(seed=0)
        for _ in range(3):  # every step scores: terminated, never a wasted reset step
            _, rewards, terminated, _, _ = vec.step(["<think>t</think><answer>normal</answer>"] * 2)
            assert terminated.all() and set(rewards) <= {1.1, -0.9}
    finally:
        vec.close()


def test_make_vec_async_matches_sync(data_dir):
    env_id = ENV_ID["anomaly_detection"]
    single = gym.make(env_id, data_dir=data_dir).unwrapped
    results = {}
    for mode in ("sync", "async"):
        vec = gym.make_vec(env_id, num_envs=2, vector_mode=mode, data_dir=data_dir)
        try:
            if mode == "async":
                assert isinstance(vec, gym.vector.AsyncVectorEnv)
            results[mode] = _drive_same_step(vec, single, seed=21)
        finally:
            vec.close()
    assert results["async"] == results["sync"]


# -- the API contract -----------------------------------------------------------------------

def test_step_before_reset_raises_reset_needed(data_dir):
    env = gym.make(ENV_ID["anomaly_detection"], data_dir=data_dir)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("normal")
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step("normal")
    # and again once an episode has ended (one-step episodes)
    env.reset(seed=0)
    env.step("normal")
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step("normal")


@pytest.mark.parametrize("action", [1, b"normal", None, ["normal"], np.array(["normal"])],
                         ids=["int", "bytes", "None", "list", "ndarray"])
def test_non_str_action_raises_type_error(data_dir, action):
    env = gym.make(ENV_ID["anomaly_detection"], data_dir=data_dir)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="str"):
        env.unwrapped.step(action)
    env.reset(seed=0)
    with pytest.raises(TypeError):
        env.step(action)


@pytest.mark.parametrize("pair", TASK_SOURCES, ids=ts_id)
def test_observation_space_contains_every_observation(walk, make_env, pair):
    for split in SPLITS:
        env = make_env(*pair, split)
        space = env.observation_space
        for i in walk(env.unwrapped):
            obs, _ = env.unwrapped.reset(options={"index": i})
            assert space.contains(obs), (split, i, obs[:200])
        obs, _ = env.reset(seed=0)
        assert obs in space


def test_spaces_are_shared_across_makes(data_dir):
    a = gym.make(ENV_ID["log_parsing"], data_dir=data_dir)
    b = gym.make(ENV_ID["log_parsing"], data_dir=data_dir, split="test")
    c = gym.make(ENV_ID["solution_recommendation"], data_dir=data_dir)
    assert a.observation_space is b.observation_space is c.observation_space
    assert a.action_space is b.action_space
    assert a.observation_space == b.observation_space
    for answer in ("", "normal", "<think>é中</think><answer>x</answer>", "\x00\n\t"):
        assert a.action_space.contains(answer)
    assert not a.action_space.contains("\ud800")
    assert not a.action_space.contains(b"normal")
    assert isinstance(a.action_space.sample(), str)


# -- hostile actions ------------------------------------------------------------------------

BIG = "abc def <*> 123 " * (2 * 1024 * 1024 // 16)  # 2 MiB
HOSTILE = {
    "big_plain": BIG,
    "big_answer": f"<think>x</think><answer>{BIG}</answer>",
    "big_think": f"<think>{BIG}</think><answer>normal</answer>",
    "nul": "<think>\x00</think><answer>nor\x00mal</answer>\x00",
    "only_nul": "\x00" * 100,
    "lone_surrogate": "\ud800",
    "surrogate_tagged": "<think>\ud800</think><answer>\ud800 normal \udfff</answer>",
    "rtl_marks": "<think>\u202e\u200f</think><answer>\u202enormal\u200f\u2067x\u2069</answer>",
    "nested_tags": "<think><think>x</think></think><answer><answer>normal</answer></answer>",
    "repeated": "<think>a</think><answer>normal</answer>" * 3,
    "two_answers": "<think>a</think><answer>normal</answer><answer>abnormal</answer>",
    "answer_in_think": "<think><answer>normal</answer></think>",
    "unclosed": "<think>a<answer>normal",
    "wrong_order": "</answer>normal<answer></think><think>",
    "empty_tags": "<think></think><answer></answer>",
    "many_tags": "<think>" * 10000 + "</answer>" * 10000,
    "control_chars": "<think>\x1b[31m\x07</think><answer>\x0bnormal\x1c\u2028</answer>",
}


@pytest.mark.parametrize("reasoning", ["think-first", "none"])
@pytest.mark.parametrize("task", list(SOURCES_BY_TASK))
def test_hostile_actions_never_raise(data_dir, task, reasoning):
    env = gym.make(ENV_ID[task], source="loglm", data_dir=data_dir, reasoning=reasoning,
                   render_mode="ansi")
    lo, hi = env.unwrapped.reward_range
    for name, action in HOSTILE.items():
        if reasoning == "none" and name.startswith("big_") and name != "big_plain":
            continue  # the same 2 MiB answer as big_plain under 'none'
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(action)
        assert terminated
        assert math.isfinite(reward) and lo <= reward <= hi, (name, reward)
        assert info["reward"]["total"] == pytest.approx(
            info["reward"]["format"] + info["reward"]["answer"])
        assert isinstance(env.render(), str)
        if name in ("repeated", "two_answers", "nested_tags", "answer_in_think", "empty_tags",
                    "lone_surrogate", "only_nul") and reasoning == "think-first":
            assert reward == -2.0 if name != "empty_tags" else reward == -0.9, (name, reward)
    # still usable: the reference earns the top reward afterwards
    obs, info = env.reset(seed=1)
    sample = env.unwrapped.source[info["index"]]
    _, reward, _, _, _ = env.step(env.unwrapped.task.reference_completion(sample))
    assert reward == pytest.approx(hi)


# -- rendering ------------------------------------------------------------------------------

def test_render_ansi(data_dir):
    env = gym.make(ENV_ID["anomaly_detection"], data_dir=data_dir, render_mode="ansi")
    obs, _ = env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and obs in text
    _, reward, _, _, _ = env.step("<think>x</think><answer>normal</answer>")
    text = env.render()
    assert obs in text and "normal" in text
    assert "reward" in text and f"{reward:.4f}" in text
    plain = gym.make(ENV_ID["anomaly_detection"], data_dir=data_dir)
    plain.reset(seed=0)
    assert plain.render() is None


# -- argument errors ------------------------------------------------------------------------

@pytest.mark.parametrize("task, kwargs, bad, valid", [
    ("anomaly_detection", {"source": "nope"}, "nope", ["sim", "loghub", "loglm", "hdfs"]),
    ("anomaly_detection", {"split": "dev"}, "dev", ["train", "test"]),
    ("anomaly_detection", {"reasoning": "cot"}, "cot", ["think-first", "answer-first", "none"]),
    ("anomaly_detection", {"reward": "x"}, "'x'", ["rlog", "unit"]),
    ("log_parsing", {"domains": ["NoSuchSystem"], "source": "loghub"}, "NoSuchSystem",
     ["HDFS", "Linux", "BGL"]),
    ("log_parsing", {"domains": ["NoSuchSystem"]}, "NoSuchSystem", ["seen", "unseen", "hdfs"]),
    ("log_parsing", {"domains": "NoSuchSystem", "source": "loglm"}, "NoSuchSystem",
     ["HDFS", "Proxifier"]),
    ("anomaly_detection", {"domains": ["NoSuchSystem"], "source": "loghub"}, "NoSuchSystem", ["BGL"]),
    ("log_interpretation", {"source": "loghub"}, "loghub", ["loglm"]),
    ("root_cause_analysis", {"source": "loghub"}, "loghub", ["loglm"]),
    ("log_parsing", {"ground_truth": "bogus", "source": "loghub"}, "bogus", ["corrected", "original"]),
    ("log_parsing", {"protocol": "leave-one-out", "source": "loghub"}, "leave-one-out", ["within", "unseen"]),
    ("anomaly_detection", {"difficulty": "brutal"}, "brutal", ["easy", "medium", "hard"]),
    ("anomaly_detection", {"granularity": "token"}, "token", ["window", "line"]),
    ("anomaly_detection", {"render_mode": "rgb_array"}, "rgb_array", ["ansi"]),
], ids=["source", "split", "reasoning", "reward", "domains", "domains-sim", "domains-loglm",
        "domains-ad", "li-loghub", "rc-loghub", "ground_truth", "protocol", "difficulty", "granularity",
        "render_mode"])
def test_bad_arguments_raise_value_error(data_dir, task, kwargs, bad, valid):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns of an unknown render mode itself
        with pytest.raises(ValueError) as excinfo:
            gym.make(ENV_ID[task], data_dir=data_dir, **kwargs)
    message = str(excinfo.value)
    assert bad in message
    for name in valid:
        assert name in message, (name, message)


def test_loghub_unseen_protocol_says_unseen_for_a_held_out_system(data_dir):
    from rlog_env.datasets import loghub

    env = gym.make(ENV_ID["log_parsing"], source="loghub", split="test", protocol="unseen", data_dir=data_dir)
    flags = {}
    for index in range(len(env.unwrapped.source)):
        _, info = env.reset(options={"index": index})
        if info["domain"] not in flags:
            flags[info["domain"]] = env.step("<answer>x</answer>")[4]["unseen"]
    assert flags == {system: system in loghub.HELD_OUT for system in flags}
    assert set(flags) & set(loghub.HELD_OUT) and set(flags) - set(loghub.HELD_OUT)


@pytest.mark.parametrize("task, kwargs, option", [
    ("log_parsing", {"frobnicate": 1}, "frobnicate"),
    ("log_parsing", {"source": "loglm", "ground_truth": "original"}, "ground_truth"),
    ("anomaly_detection", {"source": "loglm", "colour": "red"}, "colour"),
])
def test_unknown_source_option_raises_type_error(data_dir, task, kwargs, option):
    with pytest.raises(TypeError, match=option):
        gym.make(ENV_ID[task], data_dir=data_dir, **kwargs)
    with pytest.raises(TypeError, match=option):
        rlog_env.ENVIRONMENTS[ENV_ID[task]](data_dir=data_dir, **kwargs)


def test_no_data_dir_needed_by_default_but_by_real_sources(monkeypatch):
    monkeypatch.delenv("RLOG_DATA_DIR", raising=False)
    for env_id in rlog_env.ENV_IDS:
        env = gym.make(env_id)  # the simulator: no data directory, no network
        obs, info = env.reset(seed=0)
        assert info["source"] == "sim" and obs
    for task, sources in SOURCES_BY_TASK.items():
        for source in sources:
            if not SOURCES[source].needs_data:
                continue
            with pytest.raises(FileNotFoundError) as excinfo:
                gym.make(ENV_ID[task], source=source)
            message = str(excinfo.value)
            assert "RLOG_DATA_DIR" in message and "data_dir" in message


def test_missing_data_dir_names_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("RLOG_DATA_DIR", raising=False)
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="data_dir") as excinfo:
        gym.make(ENV_ID["anomaly_detection"], source="loghub", data_dir=missing)
    assert str(missing) in str(excinfo.value)
    monkeypatch.setenv("RLOG_DATA_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match="RLOG_DATA_DIR") as excinfo:
        gym.make(ENV_ID["anomaly_detection"], source="loghub")
    assert str(missing) in str(excinfo.value)


def test_bad_reset_index(data_dir):
    env = gym.make(ENV_ID["anomaly_detection"], source="loghub", data_dir=data_dir)
    n = len(env.unwrapped)
    for bad in (n, -1, 10**9):
        with pytest.raises(IndexError, match=f"0 <= index < {n}"):
            env.reset(options={"index": bad})
    for bad in ("3", 1.5, True):
        with pytest.raises(TypeError):
            env.reset(options={"index": bad})
    obs, info = env.reset(options={"index": np.int64(3)})
    assert info["index"] == 3 and type(info["index"]) is int


def test_gymnasium_async_mode_carries_text_through_shared_memory(data_dir):
    """``make_vec(..., vectorization_mode="async")`` (Gymnasium's own AsyncVectorEnv, shared
    memory on) returns the same prompts and rewards as the sync mode."""
    env_id = ENV_ID["log_interpretation"]
    kwargs = {"num_envs": 2, "vector_kwargs": {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
              "data_dir": data_dir}
    results = {}
    for mode in ("sync", "async"):
        vec = gym.make_vec(env_id, vectorization_mode=mode, **kwargs)
        try:
            if mode == "async":
                assert vec.shared_memory
            obs, _ = vec.reset(seed=3)
            steps = [tuple(obs)]
            for answer in ("<think>x</think><answer>The node failed.</answer>", "garbage"):
                obs, rewards, *_ = vec.step([answer, answer])
                steps.append((tuple(obs), tuple(np.asarray(rewards).tolist())))
            results[mode] = steps
        finally:
            vec.close()
    assert results["async"] == results["sync"]
    assert all(len(text) > 100 and "Logs:" in text for text in results["async"][0])


def test_drawn_indices_are_uniform_and_seeded():
    """``reset`` without an index draws one uniformly below ``len(env)`` from the environment's
    generator: the same seed gives the same indices, every index of a small split is drawn about
    equally often, and the endless stream draws across its whole range."""
    env = gym.make(ENV_ID["anomaly_detection"], split="test")  # 500 indices: 500 isn't a power of 2
    n = len(env.unwrapped)
    env.reset(seed=4)
    drawn = [episode_index(env.unwrapped.np_random, None, n) for _ in range(50_000)]
    env.reset(seed=4)
    assert [episode_index(env.unwrapped.np_random, None, n) for _ in range(50_000)] == drawn
    counts = np.bincount(drawn, minlength=n)
    assert len(counts) == n  # never n or above
    expected = len(drawn) / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < n + 5 * math.sqrt(2 * n), chi2  # 499 degrees of freedom: 5 sigma
    endless = gym.make(ENV_ID["anomaly_detection"])
    endless.reset(seed=0)
    big = [episode_index(endless.unwrapped.np_random, None, len(endless.unwrapped)) for _ in range(2_000)]
    assert all(0 <= i < len(endless.unwrapped) for i in big)
    assert sum(i >= len(endless.unwrapped) // 2 for i in big) in range(900, 1100)  # both halves
    first, again = endless.reset(seed=7)[1]["index"], endless.reset(seed=7)[1]["index"]
    assert first == again
