"""Trajectory grounding hangs on a task's kind: a task of a new kind, from a new source, gets a
clear error until its kind has a grounding (and the task strategies), then is served like the
built-in ones; the registries are restored afterwards."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from typing import ClassVar

import pytest

from rlog_env.datasets import SOURCES, SourceSpec, content_split, finite_source, registered_source
from rlog_env.datasets.reasoning import (
    GROUNDINGS, OPTIONAL, build_trajectory, grounding_for, reasoning_tasks, register_grounding,
    registered_grounding, unregister_grounding, write_reasoning_dataset,
)
from rlog_env.tasks import TASKS, Judgement, Sample, Task, get_task, registered_task
from rlog_env.tasks.strategies import STRATEGIES, registered_strategies

LEVEL = "level"  # a kind no built-in task has
LEVELS = ("INFO", "WARN", "ERROR")


@dataclass(frozen=True)
class LastLineLevel(Task):
    """Answer the level of the last log line."""

    name: ClassVar[str] = "toy_last_line_level"
    kind: ClassVar[str] = LEVEL
    env_id: ClassVar[str] = "RLog/ToyLastLineLevel-v0"
    title: ClassVar[str] = "Last line level"
    default_source: ClassVar[str] = "toy_levels"
    default_instruction: ClassVar[str] = "Give the level of the last line of the following logs."
    answer_rule: ClassVar[str] = "The answer is one word: INFO, WARN or ERROR."
    rlog_answer_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    answer_noun: ClassVar[str] = "level"

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        correct = answer.strip().upper() == reference
        return Judgement(rlog=1.0 if correct else -1.0, unit=float(correct), metrics={"correct": correct})


def _samples(task: str) -> list[Sample]:
    out = []
    for i in range(40):
        lines = [f"00:00:{s:02d} {LEVELS[(i + s) % 3]} app: job {i * 3 + s} step {s}" for s in range(3)]
        logs = "\n".join(lines)
        out.append(Sample(task, "toy", logs, LEVELS[(i + 2) % 3],
                          meta={"source": "toy_levels", "split": content_split(logs), "id": f"toy/{i}"}))
    return out


TOY_SOURCE = SourceSpec(
    "toy_levels", (LastLineLevel.name,),
    open=lambda root, task, split, domains, options: finite_source(
        "toy_levels", task, split, _samples(task), domains, ("toy",)),
    needs_data=False, description="toy level lines")


def level_steps(sample: Sample) -> dict[str, str]:
    last = sample.logs.split("\n")[-1]
    level = next(word for word in last.split() if word in LEVELS)
    return {"read": f"The last line reads “{last}”.",
            "field": f"Its level field says {level}.{OPTIONAL}Earlier lines are context only.",
            "conclude": f"So the level is {sample.reference}."}


STRATEGY = {"name": "toy_last_line_level/procedural", "task": LastLineLevel.name, "kind": "procedural",
            "title": "Read the last line's level field",
            "steps": [{"action": "read", "text": "Find the last line"},
                      {"action": "field", "text": "Read its level field"},
                      {"action": "conclude", "text": "Answer it"}]}


@pytest.fixture
def toy():
    before = (dict(TASKS), dict(SOURCES), dict(GROUNDINGS), dict(STRATEGIES))
    with ExitStack() as stack:
        stack.enter_context(registered_task(LastLineLevel))
        stack.enter_context(registered_source(TOY_SOURCE))
        yield LastLineLevel
    assert (dict(TASKS), dict(SOURCES), dict(GROUNDINGS), dict(STRATEGIES)) == before


def test_no_grounding_for_a_new_kind_is_a_clear_error(toy, tmp_path):
    assert reasoning_tasks("toy_levels") == ()
    message = (f"no trajectory grounding for kind 'level' of task '{toy.name}'; "
               "register one with .*register_grounding")
    with pytest.raises(ValueError, match=message):
        write_reasoning_dataset(tmp_path / "out", source="toy_levels", tasks=(toy.name,), episodes=3)
    with pytest.raises(ValueError, match="serves no task that reasoning trajectories can be written for"):
        write_reasoning_dataset(tmp_path / "out", source="toy_levels", episodes=3)
    sample = _samples(toy.name)[0]
    with pytest.raises(ValueError, match=message):
        build_trajectory(sample)
    with pytest.raises(ValueError, match=message):
        grounding_for(toy.name)
    assert not (tmp_path / "out").exists()


def test_a_task_the_source_does_not_serve_is_refused(toy, tmp_path):
    with pytest.raises(ValueError, match="source 'toy_levels' has no log_parsing samples"):
        write_reasoning_dataset(tmp_path / "a", source="toy_levels", tasks=("log_parsing",), episodes=2)
    with pytest.raises(ValueError, match=f"source 'sim' has no {toy.name} samples"):
        write_reasoning_dataset(tmp_path / "b", source="sim", tasks=(toy.name,), episodes=2)
    with pytest.raises(ValueError, match="tasks expects some of"):
        write_reasoning_dataset(tmp_path / "c", source="sim", tasks=("summarise",), episodes=2)


def test_served_once_its_kind_has_a_grounding_and_it_has_strategies(toy, tmp_path):
    with registered_grounding(LEVEL, level_steps):
        with pytest.raises(ValueError, match="no reasoning strategies"):
            write_reasoning_dataset(tmp_path / "out", source="toy_levels", tasks=(toy.name,), episodes=3)
        assert reasoning_tasks("toy_levels") == ()
        with registered_strategies(STRATEGY):
            assert reasoning_tasks("toy_levels") == (toy.name,)
            assert toy.name not in reasoning_tasks("sim")
            card = write_reasoning_dataset(tmp_path / "out", source="toy_levels", episodes=6, seed=1)
            assert card["tasks"] == [toy.name] and card["per_task"] == {toy.name: 6}
            assert card["per_strategy"] == {STRATEGY["name"]: 6}
            assert card["licence"].startswith("Simulated")  # a source that needs no data set
            records = [json.loads(line) for line in
                       (tmp_path / "out" / "trajectories.jsonl").read_text().splitlines()]
            samples = {s.meta["id"]: s for s in _samples(toy.name)}
            for record in records:
                sample = samples[record["id"]]
                assert record["answer"] == sample.reference
                assert record["reasoning"].startswith("Find the last line: The last line reads")
                assert record["reasoning"].endswith(f"So the level is {sample.reference}.")
                assert record["reasoning_words"] >= 40  # filled up with the lines and the request
                for fmt, key in (("think-first", "think_first"), ("answer-first", "answer_first")):
                    task = get_task(toy.name, fmt)
                    reference = task.reward_for(task.reference_completion(sample), sample).total
                    assert task.reward_for(record[key], sample).total == pytest.approx(reference)
    assert LEVEL not in GROUNDINGS


def test_registering_a_grounding_is_checked_and_reversible():
    with pytest.raises(ValueError, match="trajectory grounding for kind .text. is already registered"):
        register_grounding("text", level_steps)
    with pytest.raises(TypeError, match="callables"):
        register_grounding(LEVEL, "not a function")
    with pytest.raises(ValueError, match="no trajectory grounding for kind .* is registered"):
        unregister_grounding(LEVEL)
    grounding = register_grounding(LEVEL, level_steps)
    try:
        assert GROUNDINGS[LEVEL] is grounding and grounding.extras is not None
    finally:
        unregister_grounding(LEVEL)
    assert set(GROUNDINGS) == {"label", "template", "text"}
    with pytest.raises(ValueError, match="task expects one of"):
        grounding_for("summarise")


def test_default_tasks_are_what_each_source_serves():
    for name, spec in SOURCES.items():
        assert reasoning_tasks(name) == tuple(t for t in TASKS if spec.serves(t))
    with pytest.raises(ValueError, match="source expects one of"):
        reasoning_tasks("nowhere")
