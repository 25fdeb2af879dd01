"""Batch scoring of a GRPO group (``Task.score_group``) and the fast paths behind scoring.

``score_group`` must give exactly what ``score`` gives on each completion, analyse the reference
once per group, and be what the TRL reward functions use for consecutive rows of one prompt.
"""

from __future__ import annotations

import random
import re

import pytest

from rlog_env.tasks import FORMATS, TASKS, get_task, parsing_metric, text_metrics, trl_rewards
from rlog_env.tasks import log_parsing, text_tasks
from rlog_env.tasks.base import Task
from rlog_env.tasks.formats import parse_completion
from rlog_env.tasks.parsing_metric import (basic_tokens, lower_score_tokens, normalise_template,
                                           score_tokens)
from rlog_env.tasks.text_metrics import TextReference
from tests.tasks.test_grounding import FACTS, LOGS, REFERENCE
from tests.tasks.test_trl_rewards import (GENERATIONS, build_batch, candidate_answers,
                                          completions_for, trl_call)


def group_for(task, sample) -> list[str]:
    completions = completions_for(task, candidate_answers(task.name, sample))
    return completions + completions[:2]  # an answer that recurs in the group


@pytest.mark.parametrize("scheme", ["rlog", "unit"])
@pytest.mark.parametrize("reasoning", FORMATS)
@pytest.mark.parametrize("task_name", list(TASKS))
def test_score_group_equals_score_on_each(real_samples, task_name, reasoning, scheme):
    task = get_task(task_name, reasoning, scheme)
    for sample in real_samples[task_name]:
        group = group_for(task, sample)
        expected = [task.score(c, sample.reference, sample.logs) for c in group]
        assert task.score_group(group, sample.reference, sample.logs) == expected


def test_score_group_equals_score_under_grounded():
    task = get_task("root_cause_analysis", reward="grounded")
    group = [f"<think>t</think><answer>{a}</answer>" for a in
             (REFERENCE, "disk full on the DataNode", "The service failed 45 GB.", REFERENCE, "")]
    expected = [task.score(c, REFERENCE, LOGS, FACTS) for c in group]
    assert task.score_group(group, REFERENCE, LOGS, FACTS) == expected


def test_score_group_of_nothing_analyses_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(Task, "judge_for", lambda self, *a, **k: calls.append(a))
    task = get_task("log_interpretation")
    assert task.score_group([], "a reference") == []
    rewards = task.score_group(["no tags", "<think>x</think><answer> </answer>"], "a reference")
    assert [r.total for r in rewards] == [-2.0, -0.9] and calls == []


def _references(loglm, count: int) -> list[str]:
    refs = list(dict.fromkeys(item["output"] for item in loglm if len(item["output"].split()) > 8))
    assert len(refs) >= count
    return refs[:count]


def test_text_reference_is_analysed_once_per_group(loglm, monkeypatch):
    """Tokenisation, n-gram counts and LCS bit masks (TextReference) once per group of 8."""
    built = []

    class Counting(TextReference):
        def __init__(self, text):
            built.append(text)
            super().__init__(text)

    monkeypatch.setattr(text_metrics, "TextReference", Counting)
    text_metrics.text_reference.cache_clear()
    looked_up = []
    real_lookup = text_tasks.text_reference
    monkeypatch.setattr(text_tasks, "text_reference",
                        lambda text: looked_up.append(text) or real_lookup(text))
    task = get_task("root_cause_analysis")
    refs = _references(loglm, 5)
    for ref in refs:
        words = ref.split()
        group = [f"<think>t</think><answer>{' '.join(words[i:])}</answer>" for i in range(8)]
        task.score_group(group, ref)
    assert built == refs  # analysed once each
    assert looked_up == refs  # and looked up once per group, not once per answer
    looked_up.clear()
    for ref in refs:
        for i in range(8):
            task.score(f"<think>t</think><answer>{ref[i:]}</answer>", ref)
    assert len(looked_up) == 8 * len(refs)  # score() looks the reference up for every answer
    text_metrics.text_reference.cache_clear()


def test_parsing_template_is_analysed_once_per_group(real_samples, monkeypatch):
    calls = []
    real = log_parsing.analyse_template
    monkeypatch.setattr(log_parsing, "analyse_template",
                        lambda template, message: calls.append(template) or real(template, message))
    task = get_task("log_parsing")
    samples = real_samples["log_parsing"]
    for sample in samples:
        task.score_group(group_for(task, sample), sample.reference, sample.logs)
    assert calls == [s.reference for s in samples]


def test_trl_functions_score_each_prompt_as_one_group(real_samples, monkeypatch):
    groups = []
    real = Task.score_group

    def recording(self, completions, reference, logs="", facts=None):
        groups.append((len(completions), reference))
        return real(self, completions, reference, logs, facts)

    monkeypatch.setattr(Task, "score_group", recording)
    task = get_task("root_cause_analysis")
    samples = real_samples["root_cause_analysis"][:3]
    prompts, completions, ids, columns = build_batch(task, samples, conversational=False)
    fmt_fn, ans_fn = trl_rewards.trl_reward_functions("root_cause_analysis")
    answers = trl_call(ans_fn, prompts, completions, ids, columns)
    assert groups == [(GENERATIONS, s.reference) for s in samples]
    assert answers == [task.score(c, r, l).answer
                       for c, r, l in zip(completions, columns["reference"], columns["logs"])]


def test_trl_functions_split_groups_where_a_column_changes():
    fmt_fn, ans_fn = trl_rewards.trl_reward_functions(None)
    completions = ["<think>t</think><answer>normal</answer>"] * 4
    out = ans_fn(completions=completions, reference=["normal", "normal", "abnormal", "normal"],
                 task=["anomaly_detection"] * 4, logs=["a", "a", "a", "b"])
    assert out == [1.0, 1.0, -1.0, 1.0]


# -- the fast paths ------------------------------------------------------------------------------
_STRIP = re.compile(r"[^\w*]+")


def _score_tokens_slow(text: str) -> list[str]:
    return [t for t in (_STRIP.sub("", token) for token in basic_tokens(text)) if t]


@pytest.mark.parametrize("text", [
    "", "<*>", "a_b *c* d-e", "x=<*>, y=[<*>] ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
    "\x1c\x1d\x1e\x1fA\tB\rC\x0bD\x0cE", "Ünïcode <*> 中文 x_y", "tab\x7fdel", "ﬁ ligature",
])
def test_ascii_score_tokens_equal_the_general_rule(text):
    assert score_tokens(text) == _score_tokens_slow(text)
    assert lower_score_tokens(text) == [t.lower() for t in _score_tokens_slow(text)]


def test_ascii_score_tokens_on_random_text():
    rng = random.Random(3)
    alphabet = [chr(c) for c in range(0x09, 0x7f)] + ["_", "*", "<*>", " "]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert score_tokens(text) == _score_tokens_slow(text)
        assert lower_score_tokens(text) == [t.lower() for t in _score_tokens_slow(text)]


def test_normalise_template_collapses_every_whitespace_like_the_regex():
    whitespace = re.compile(r"\s+")
    for text in ["  a\u2028b\x1c c\u00a0 d\u3000", "\t\n", "", "x", "\x85a\x1fb", " a  b "]:
        assert normalise_template(text) == whitespace.sub(" ", text.strip())


def test_parse_completion_keeps_the_rlog_rule():
    ok = parse_completion("pre <think> a </think> mid <answer> b </answer> post")
    assert (ok.well_formed, ok.answer, ok.think) == (True, "b", "a")
    for bad in ["<answer>b</answer><think>a</think>", "<think>a</think><answer>b</answer></answer>",
                "<think>a<answer></think>b</answer>", "<think>a</think>b</answer>", ""]:
        assert not parse_completion(bad).well_formed, bad
    fast = parse_completion("<answer> b </answer><think> a </think>", "answer-first")
    assert (fast.well_formed, fast.answer, fast.think) == (True, "b", "a")
    with pytest.raises(ValueError, match="reasoning expects"):
        parse_completion("x", "sideways")


def test_parsing_metric_module_still_exports_parsing_f1():
    assert parsing_metric.parsing_f1("a <*>", "a <*>", "a 1").f1 == 1.0
