"""What the VeRL tests score: samples from the environments and reference, wrong and garbage
completions of them, and the environment's own reward for each (the expectation).

Shared by ``test_verl_score.py`` (the default venv) and ``verl/test_with_verl.py`` (VeRL's venv).
"""

from __future__ import annotations

import json

import gymnasium as gym

import rlog_env  # noqa: F401  (registers the environments)
from rlog_env.tasks import TASKS, write_completion

SAMPLES = 2  # samples per task in each case


def env_for(task: str, reasoning: str, reward: str, source: str = "sim", data_dir=None) -> gym.Env:
    return gym.make(TASKS[task].env_id, source=source, data_dir=data_dir, reasoning=reasoning, reward=reward)


def samples_of(env: gym.Env, count: int = SAMPLES, start: int = 0) -> list:
    base = env.unwrapped
    return [base.source[i] for i in range(start, min(start + count, len(base.source)))]


def _other_reference(env: gym.Env, sample) -> str:
    """A reference of another sample of the same source that differs from ``sample``'s: a
    plausible, wrong answer (the other label, another template, another explanation)."""
    source = env.unwrapped.source
    for i in range(0, len(source), max(1, len(source) // 400)):  # spread over the split: some sort by label
        other = source[i].reference
        if other.strip() != sample.reference.strip():
            return other
    raise AssertionError(f"no other reference than {sample.reference!r} in {env.unwrapped.source_name}")


def completions(env: gym.Env, sample) -> list[tuple[str, str]]:
    """``(kind, completion)`` pairs for ``sample``: the reference, wrong answers, garbage."""
    task = env.unwrapped.task
    fmt = task.reasoning
    other_format = "answer-first" if fmt == "think-first" else "think-first"
    return [
        ("reference", task.reference_completion(sample)),
        ("reference-other-format", write_completion(sample.reference, "Because.", other_format)),
        ("wrong", write_completion(_other_reference(env, sample), "The logs say so.", fmt)),
        ("wrong-logs-pasted", write_completion(sample.logs[:2000], "Copy the logs.", fmt)),
        ("wrong-partial", write_completion(" ".join(sample.reference.split()[:3]), "Short.", fmt)),
        ("garbage-empty", ""),
        ("garbage-empty-answer", write_completion("", "Nothing to say.", fmt)),
        ("garbage-tags", "<answer>a</answer><answer>b</answer><think>"),
        ("garbage-bytes", "\u00ff\u00fe }{ ### \u4e2d\u6587 \t\n 0x00 <think"),
    ]


def env_reward(env: gym.Env, index: int, completion: str) -> dict:
    """The environment's reward for ``completion`` on the sample at ``index``, as
    :func:`rlog_env.integrations.verl.compute_score` reports it."""
    env.reset(options={"index": index})
    _, total, terminated, _, info = env.step(completion)
    assert terminated
    metrics = dict(info["metrics"])
    return {"score": total, "format": info["reward"]["format"], "answer": info["reward"]["answer"],
            "well_formed": metrics.pop("well_formed"), "answer_empty": metrics.pop("answer_empty"),
            "metrics": json.dumps(metrics, ensure_ascii=False)}
