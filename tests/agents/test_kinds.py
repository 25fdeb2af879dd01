"""The baselines dispatch by a task's kind: a new kind is served once it has a registered
baseline, refused clearly when it has none; and one vocabulary of failure words serves the rule
detector and the reasoning trajectories alike.

Toy tasks and baselines are registered through the public functions only and removed again
(``registered_task``, ``registered_baseline``): the rest of the suite never sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Sequence

import pytest

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines import (BASELINES, HeuristicAgent, RetrievalAgent, RuleAnomalyDetector,
                                       inspect_logs, register_baseline, registered_baseline,
                                       unregister_baseline, write_completion)
from rlog_env.agents.baselines import anomaly
from rlog_env.tasks import TASKS, Judgement, Sample, Task, parse_completion
from rlog_env.tasks import vocabulary
from rlog_env.tasks.registry import registered_task
from rlog_env.tasks.text_tasks import TextTask

LEVEL = "level"  # a kind no built-in task has
_LEVEL_WORD = re.compile(r"\b(INFO|WARN|ERROR)\b")


def last_level(logs: str) -> str:
    found = _LEVEL_WORD.findall(logs.strip().split("\n")[-1])
    return found[-1] if found else "INFO"


@dataclass(frozen=True)
class ToyLastLevel(Task):
    """The level of the last line: a task of a kind no built-in task has."""

    name: ClassVar[str] = "toy_last_level"
    kind: ClassVar[str] = LEVEL
    env_id: ClassVar[str] = "RLogToy/LastLevel-v0"
    title: ClassVar[str] = "Last level"
    default_instruction: ClassVar[str] = "Name the level of the last line."
    answer_rule: ClassVar[str] = "The answer is one level: INFO, WARN or ERROR."
    rlog_answer_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    answer_noun: ClassVar[str] = "level"

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        right = answer.strip().upper() == reference.strip().upper()
        return Judgement(rlog=1.0 if right else -1.0, unit=float(right), metrics={"correct": right})


@dataclass(frozen=True)
class ToySummary(TextTask):
    """A free-text task that no built-in table knows by name."""

    name: ClassVar[str] = "toy_summary"
    env_id: ClassVar[str] = "RLogToy/Summary-v0"
    title: ClassVar[str] = "Summary"
    default_instruction: ClassVar[str] = "Summarise the logs."
    answer_rule: ClassVar[str] = "The answer is one sentence."
    answer_noun: ClassVar[str] = "summary"


class LastLevelAgent:
    """The toy kind's baseline: reads the level field of the last line."""

    def __init__(self, reasoning: str = "think-first", name: str = "last-level"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "LastLevelAgent":
        self.n_samples_seen_ = len(samples)
        self.tasks_seen_ = sorted({s.task for s in samples})
        return self

    def act(self, observations: Sequence[Observation]) -> list[str]:
        return [write_completion(last_level(o.logs), "The level field of the last line.", self.reasoning)
                for o in observations]


LOGS = ("2024-01-01 10:00:00 INFO svc: started\n2024-01-01 10:00:01 ERROR svc: connection refused",
        "2024-01-01 10:00:00 ERROR svc: disk full\n2024-01-01 10:00:05 INFO svc: recovered",
        "2024-01-01 10:00:00 INFO svc: started\n2024-01-01 10:00:09 WARN svc: slow response")


def _toy_samples() -> list[Sample]:
    return [Sample("toy_last_level", "svc", logs, last_level(logs), meta={"split": "train"}) for logs in LOGS]


def _observations(task: str) -> list[Observation]:
    return [Observation("", (), task, logs, "svc") for logs in LOGS]


def _anomaly_samples() -> list[Sample]:
    return [Sample("anomaly_detection", "svc", logs, "abnormal" if "ERROR" in logs else "normal")
            for logs in LOGS]


def test_the_builtin_kinds_have_their_baselines():
    assert BASELINES["template"].__name__ == "DrainParser"
    assert BASELINES["label"] is RuleAnomalyDetector and BASELINES["text"] is RetrievalAgent
    for task in TASKS.values():
        assert task.kind in BASELINES, f"{task.name}: its kind {task.kind!r} has no baseline"


@pytest.mark.parametrize("reasoning", ["think-first", "answer-first", "none"])
def test_a_new_kind_with_a_registered_baseline_is_served_by_heuristic(reasoning):
    plain = HeuristicAgent(reasoning=reasoning).fit(_anomaly_samples())
    expected_anomaly = plain.act(_observations("anomaly_detection"))
    with registered_task(ToyLastLevel), registered_baseline(LEVEL, LastLevelAgent):
        agent = HeuristicAgent(reasoning=reasoning).fit(_toy_samples() + _anomaly_samples())
        toy = agent.baselines_[LEVEL]
        assert isinstance(toy, LastLevelAgent) and toy.reasoning == reasoning
        assert toy.n_samples_seen_ == len(LOGS) and toy.tasks_seen_ == ["toy_last_level"]
        assert agent.baselines_["label"].n_samples_seen_ == len(LOGS)

        mixed = [o for pair in zip(_observations("toy_last_level"), _observations("anomaly_detection"))
                 for o in pair]
        answers = agent.act(mixed)
        task = ToyLastLevel(reasoning=reasoning)
        for observation, completion in zip(mixed[::2], answers[::2]):
            parsed = parse_completion(completion, reasoning)
            assert parsed.well_formed and parsed.answer == last_level(observation.logs)
            sample = Sample("toy_last_level", "svc", observation.logs, last_level(observation.logs))
            assert task.reward_for(completion, sample).total == task.top_reward(sample)
        assert answers[1::2] == expected_anomaly  # the other kinds are served as before

        # An unfitted heuristic agent plays the toy kind with an unfitted baseline.
        unfitted = HeuristicAgent(reasoning=reasoning).act(_observations("toy_last_level"))
        assert [parse_completion(c, reasoning).answer for c in unfitted] == ["ERROR", "INFO", "WARN"]
    assert LEVEL not in BASELINES and "toy_last_level" not in TASKS


def test_a_kind_without_a_baseline_is_a_clear_error():
    with registered_task(ToyLastLevel):
        agent = HeuristicAgent().fit(_toy_samples() + _anomaly_samples())  # toy samples ignored
        assert LEVEL not in agent.baselines_
        mixed = _observations("anomaly_detection") + _observations("toy_last_level")
        with pytest.raises(ValueError) as caught:
            agent.act(mixed)
        message = str(caught.value)
        for part in ("'toy_last_level'", "kind 'level'", "register_baseline('level'"):
            assert part in message, message
        # The sub-baselines say which kind they play.
        with pytest.raises(ValueError, match="plays tasks of kind 'label'.*'toy_last_level' \\(kind 'level'\\)"):
            RuleAnomalyDetector().act(_observations("toy_last_level"))
    with pytest.raises(ValueError, match="not a registered task"):
        HeuristicAgent().act(_observations("toy_last_level"))


def test_register_baseline_refuses_a_taken_kind_and_has_an_inverse():
    with pytest.raises(ValueError, match="baseline for kind .label. is already registered"):
        register_baseline("label", LastLevelAgent)
    assert BASELINES["label"] is RuleAnomalyDetector
    register_baseline(LEVEL, LastLevelAgent)
    try:
        assert BASELINES[LEVEL] is LastLevelAgent
    finally:
        unregister_baseline(LEVEL)
    assert LEVEL not in BASELINES
    with pytest.raises(ValueError, match="no baseline for kind .level. is registered"):
        unregister_baseline(LEVEL)
    with pytest.raises(ValueError, match="task kind"):
        register_baseline("", LastLevelAgent)


def test_retrieval_indexes_every_text_task_and_names_its_answer():
    train = [Sample("toy_summary", "svc", logs, f"summary {i}", meta={"split": "train", "id": f"t{i}"})
             for i, logs in enumerate(LOGS)]
    with registered_task(ToySummary):
        agent = RetrievalAgent().fit(train)
        assert set(agent.indexes_) == {"toy_summary"}
        completion = agent.act([Observation("", (), "toy_summary", LOGS[1], "svc")])[0]
        parsed = parse_completion(completion)
        assert parsed.answer == "summary 1" and "that case's summary fits" in parsed.think
        heuristic = HeuristicAgent().fit(train)
        assert heuristic.act([Observation("", (), "toy_summary", LOGS[1], "svc")]) == [completion]


# -- one vocabulary --------------------------------------------------------------------------
def test_the_detector_is_built_from_the_vocabulary():
    assert anomaly.FAILURE_PATTERNS is vocabulary.FAILURE_PATTERNS
    assert anomaly.BENIGN_PATTERNS is vocabulary.BENIGN_PATTERNS
    assert anomaly.SEVERITY_PATTERNS is vocabulary.SEVERITY_PATTERNS
    words = vocabulary.words_pattern(vocabulary.FAILURE_TERMS)
    assert vocabulary.FAILURE_PATTERNS[0][1] == words
    assert vocabulary.FAILURE_WORDS.pattern == words + "|" + vocabulary.EXCEPTION_CLASS


@pytest.mark.parametrize(("line", "word"), [
    ("connection refused by 10.0.0.5", "refused"),
    ("Worker lost its lease", "lost"),
    ("could not open /var/lib/data", "could not"),
    ("Caught java.io.IOException while reading", "java.io.IOException"),
    ("Container is not responding to probes", "not responding"),
])
def test_the_detector_and_failure_words_find_the_same_word(line, word):
    fired, benign = anomaly.inspect_line(line)
    assert fired is not None and benign is None and fired.evidence == word
    match = vocabulary.FAILURE_WORDS.search(line)
    assert match is not None and match.group(0) == word


@pytest.mark.parametrize(("line", "alarm"), [("WARN slow response from the cache", "WARN"),
                                             ("node-7 is down for maintenance", "down"),
                                             ("request served in 12 ms", None)])
def test_alarming_words_state_no_failure(line, alarm):
    assert inspect_logs(line).label == "normal"  # the detector does not fire on them
    assert vocabulary.FAILURE_WORDS.search(line) is None
    match = vocabulary.ALARMING_WORDS.search(line)
    assert (match and match.group(0)) == (alarm or None)


def test_each_word_has_one_tier():
    assert not set(vocabulary.FAILURE_TERMS) & set(vocabulary.ALARM_TERMS)
    assert vocabulary.ALARMING_WORDS.pattern == (
        vocabulary.words_pattern(vocabulary.FAILURE_TERMS + vocabulary.ALARM_TERMS)
        + "|" + vocabulary.EXCEPTION_CLASS)


def test_recovery_words():
    for line, word in (("ECC error corrected", "corrected"), ("Retrying the upload", "Retrying"),
                       ("link restored after 3 s", "restored")):
        match = vocabulary.BENIGN_WORDS.search(line)
        assert match is not None and match.group(0) == word
    assert vocabulary.BENIGN_WORDS.search("disk failed") is None
