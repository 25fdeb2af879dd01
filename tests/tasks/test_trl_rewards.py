"""The TRL reward functions, called exactly the way TRL's GRPOTrainer calls them.

trl 1.16 ``GRPOTrainer._calculate_rewards`` calls a plain (non-model) reward function as

    reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list,
                trainer_state=self.state, log_extra=..., log_metric=..., **reward_kwargs)

where ``reward_kwargs`` holds every data-set column except ``prompt``, ``completion`` and
``completion_ids``, one value per completion (each prompt repeated ``num_generations`` times,
consecutively), and turns ``None`` into NaN. TRL itself is not installed here (no torch); the
call is reproduced with plain Python objects. ``trainer_state`` stands in for transformers'
``TrainerState``.
"""

from __future__ import annotations

import pickle
import random
from types import SimpleNamespace

import pytest

from rlog_env.tasks import (FORMATS, LABEL, TASKS, TEMPLATE, AnswerReward, FormatReward, get_task,
                            trl_reward_functions)

# The schemes that score any sample; "grounded" needs key facts (tests/tasks/test_grounding.py).
SCHEMES = ("rlog", "unit")

GENERATIONS = 8


def layout(reasoning: str, answer: str, think: str = "Reasoning about the logs.") -> str:
    if reasoning == "think-first":
        return f"<think>{think}</think><answer>{answer}</answer>"
    if reasoning == "answer-first":
        return f"<answer>{answer}</answer><think>{think}</think>"
    return answer


def candidate_answers(task_name: str, sample) -> list[str]:
    """Eight answers of varied quality for one prompt (a GRPO group)."""
    ref = sample.reference
    kind = TASKS[task_name].kind
    if kind == TEMPLATE:
        # "<*> " + message: a "*" but every value left in, which only the logs reveal
        answers = [ref, sample.logs, "<*>", ref.upper(), ref.replace("<*>", "<*> <*>"),
                   "<*> " + sample.logs, "", "  "]
    elif kind == LABEL:
        other = "normal" if ref == "abnormal" else "abnormal"
        answers = [ref, other, ref.title() + " ", "normal abnormal", ref.upper(), "unknown", "",
                   f"{ref}."]
    else:
        words = ref.split()
        rng = random.Random(len(words))
        shuffled = words[:]
        rng.shuffle(shuffled)
        answers = [ref, " ".join(words[:10]), " ".join(shuffled), " ".join(words[::2]),
                   ref.lower(), "The service failed.", "", ref + " " + ref]
    assert len(answers) == GENERATIONS
    return answers


def completions_for(task, answers: list[str]) -> list[str]:
    """The group's completions: well-formed ones, plus two malformed ones for tagged formats."""
    out = [layout(task.reasoning, a) for a in answers]
    if task.reasoning != "none":
        out[-2] = answers[0]  # no tags at all
        out[-1] = layout(task.reasoning, answers[0]) + "<answer>again</answer>"  # two answers
    return out


def build_batch(task, samples, conversational: bool):
    """What TRL has at reward time: prompts, completions, ids and the extra columns."""
    prompts, completions, references, logs, ids = [], [], [], [], []
    for sample in samples:
        prompt = task.messages(sample) if conversational else task.prompt(sample)
        for text in completions_for(task, candidate_answers(task.name, sample)):
            prompts.append(prompt)
            completions.append([{"role": "assistant", "content": text}] if conversational
                               else text)
            references.append(sample.reference)
            logs.append(sample.logs)
            ids.append([ord(c) % 997 for c in text[:16]])  # token ids: opaque to the function
    columns = {"reference": references, "logs": logs,
               "task": [task.name] * len(references)}  # the export's task column
    return prompts, completions, ids, columns


def trl_call(reward_func, prompts, completions, completion_ids, columns, logged=None):
    """``GRPOTrainer._calculate_rewards``' call of a plain reward function."""
    logged = [] if logged is None else logged
    state = SimpleNamespace(global_step=3, epoch=0.25, max_steps=100, log_history=[])
    output = reward_func(
        prompts=prompts,
        completions=completions,
        completion_ids=completion_ids,
        trainer_state=state,
        log_extra=lambda column, values: logged.append(("extra", column, list(values))),
        log_metric=lambda name, value: logged.append(("metric", name, value)),
        **columns,
    )
    # what TRL does next: None -> NaN, then a float tensor of one value per completion
    assert isinstance(output, list) and len(output) == len(completions)
    assert all(isinstance(v, float) for v in output), output
    return output


def text_of(completion) -> str:
    return completion if isinstance(completion, str) else completion[0]["content"]


@pytest.mark.parametrize("conversational", [False, True], ids=["plain", "conversational"])
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("reasoning", FORMATS)
@pytest.mark.parametrize("task_name", list(TASKS))
def test_format_plus_answer_is_the_task_total(real_samples, task_name, reasoning, scheme,
                                              conversational):
    task = get_task(task_name, reasoning, scheme)
    samples = real_samples[task_name][:3]
    prompts, completions, ids, columns = build_batch(task, samples, conversational)
    assert len(completions) == GENERATIONS * len(samples)
    fmt_fn, ans_fn = trl_reward_functions(task_name, reasoning, scheme)
    assert isinstance(fmt_fn, FormatReward) and isinstance(ans_fn, AnswerReward)
    formats = trl_call(fmt_fn, prompts, completions, ids, columns)
    answers = trl_call(ans_fn, prompts, completions, ids, columns)
    totals = []
    for c, ref, log, f, a in zip(completions, columns["reference"], columns["logs"], formats,
                                 answers):
        reward = task.score(text_of(c), ref, log)
        assert (f, a) == (reward.format, reward.answer)
        assert f + a == reward.total  # exactly
        totals.append(f + a)
    # the group is not degenerate: the reference tops it, something earns less
    low, high = task.reward_range
    assert max(totals) == high and min(totals) < high
    assert all(low <= t <= high for t in totals)
    if reasoning != "none":
        assert min(totals) == low  # the malformed completions


@pytest.mark.parametrize("task_name", list(TASKS))
def test_conversational_equals_plain(real_samples, task_name):
    for reasoning, scheme in [("think-first", "rlog"), ("answer-first", "unit")]:
        task = get_task(task_name, reasoning, scheme)
        samples = real_samples[task_name][:3]
        plain = build_batch(task, samples, conversational=False)
        chat = build_batch(task, samples, conversational=True)
        assert isinstance(chat[0][0], list) and chat[0][0][0]["role"] == "system"
        for fn in trl_reward_functions(task_name, reasoning, scheme):
            assert trl_call(fn, *plain) == trl_call(fn, *chat)


def test_conversational_completion_joins_assistant_messages(real_samples):
    sample = real_samples["anomaly_detection"][1]
    task = get_task("anomaly_detection")
    split = [{"role": "assistant", "content": "<think>looks bad</think>"},
             {"role": "assistant", "content": f"<answer>{sample.reference}</answer>"}]
    columns = {"reference": [sample.reference], "logs": [sample.logs], "task": ["anomaly_detection"]}
    fmt, ans = (trl_call(fn, [task.messages(sample)], [split], [[1, 2]], columns)[0]
                for fn in trl_reward_functions("anomaly_detection"))
    assert fmt + ans == task.score(f"<think>looks bad</think><answer>{sample.reference}</answer>",
                                   sample.reference).total == pytest.approx(1.1)


def test_conversational_completion_reads_only_assistant_messages(real_samples):
    # A tool-calling completion carries tool results: only the assistant's text is the answer.
    sample = real_samples["anomaly_detection"][1]
    task = get_task("anomaly_detection")
    good = f"<think>t</think><answer>{sample.reference}</answer>"
    messages = [{"role": "assistant", "content": good},
                {"role": "tool", "content": "<answer>normal</answer>"}]
    columns = {"reference": [sample.reference], "logs": [sample.logs], "task": ["anomaly_detection"]}
    for fn in trl_reward_functions("anomaly_detection"):
        assert trl_call(fn, ["p"], [messages], [[1]], columns) == trl_call(fn, ["p"], [good],
                                                                          [[1]], columns)


def test_logs_column_reaches_the_parsing_metric(real_samples):
    # "<*> " + the raw message: with the logs the values are found in the answer (F1 0 on a
    # template with variables); without them any "*" makes every variable right.
    sample = real_samples["log_parsing"][0]  # HDFS line 1, two variables
    completion = f"<think>t</think><answer><*> {sample.logs}</answer>"
    columns = {"reference": [sample.reference], "logs": [sample.logs], "task": ["log_parsing"]}
    fn = AnswerReward("log_parsing")
    assert trl_call(fn, ["p"], [completion], [[1]], columns) == [0.0]
    del columns["logs"]
    assert trl_call(fn, ["p"], [completion], [[1]], columns) == [1.0]


@pytest.mark.parametrize("task_name", list(TASKS))
def test_pickle_round_trip(real_samples, task_name):
    task = get_task(task_name, "answer-first", "unit")
    batch = build_batch(task, real_samples[task_name][:2], conversational=True)
    for fn in trl_reward_functions(task_name, "answer-first", "unit"):
        clone = pickle.loads(pickle.dumps(fn))
        assert type(clone) is type(fn)
        assert clone.__name__ == fn.__name__
        assert repr(clone) == repr(fn)
        assert trl_call(clone, *batch) == trl_call(fn, *batch)


def test_names_are_set_and_distinct():
    names = []
    for task_name in TASKS:
        fmt, ans = trl_reward_functions(task_name)
        assert isinstance(fmt.__name__, str) and fmt.__name__
        assert isinstance(ans.__name__, str) and ans.__name__
        assert fmt.__name__ != ans.__name__
        assert task_name in fmt.__name__ and task_name in ans.__name__
        names += [fmt.__name__, ans.__name__]
    # TRL logs rewards/<name>: two functions with one name would be merged in the logs
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("cls", [FormatReward, AnswerReward])
def test_missing_reference_column_is_a_type_error_naming_it(real_samples, cls):
    task = get_task("log_parsing")
    prompts, completions, ids, columns = build_batch(task, real_samples["log_parsing"][:1], False)
    del columns["reference"]
    with pytest.raises(TypeError, match="reference"):
        trl_call(cls("log_parsing"), prompts, completions, ids, columns)


def test_one_reference_per_completion(real_samples):
    task = get_task("anomaly_detection")
    prompts, completions, ids, columns = build_batch(task, real_samples["anomaly_detection"][:1],
                                                     False)
    columns["reference"] = columns["reference"][:-1]
    with pytest.raises(ValueError):
        trl_call(AnswerReward("anomaly_detection"), prompts, completions, ids, columns)


def test_without_logs_column_parsing_scores_without_values(real_samples):
    # Without "logs" the values are unknown: a "*" makes every variable right.
    task = get_task("log_parsing")
    prompts, completions, ids, columns = build_batch(task, real_samples["log_parsing"][:2], False)
    del columns["logs"]
    answers = trl_call(AnswerReward("log_parsing"), prompts, completions, ids, columns)
    assert answers == [task.score(c, r).answer for c, r in zip(completions, columns["reference"])]


def test_bad_configuration_is_a_value_error():
    with pytest.raises(ValueError, match="log_parsing"):
        FormatReward("parsing")
    with pytest.raises(ValueError, match="think-first"):
        AnswerReward("log_parsing", reasoning="cot")
    with pytest.raises(ValueError, match="rlog"):
        AnswerReward("log_parsing", reward="foo")


@pytest.mark.parametrize("scheme", ("rlog", "hardened"))
@pytest.mark.parametrize("task_name", list(TASKS))
def test_each_completion_is_judged_once_for_both_functions(real_samples, monkeypatch, task_name, scheme):
    """TRL calls the format function, then the answer function, on the same batch: the pair
    shares the group's judgement, so no completion is judged twice."""
    cls = TASKS[task_name]
    judged: list[str] = []
    original = cls.judge_for

    def counting_judge_for(self, reference, logs="", facts=None):
        judge = original(self, reference, logs, facts)

        def counted(answer):
            judged.append(answer)
            return judge(answer)

        return counted

    monkeypatch.setattr(cls, "judge_for", counting_judge_for)
    task = get_task(task_name, "think-first", scheme)
    samples = real_samples[task_name][:3]
    prompts, completions, ids, columns = build_batch(task, samples, conversational=False)
    fmt_fn, ans_fn = trl_reward_functions(task_name, "think-first", scheme)
    formats = trl_call(fmt_fn, prompts, completions, ids, columns)
    after_format = len(judged)
    answers = trl_call(ans_fn, prompts, completions, ids, columns)
    assert len(judged) == after_format  # the answer function judged nothing again
    # one judgement per distinct well-formed, non-empty answer of each group
    expected = 0
    for start in range(0, len(completions), GENERATIONS):
        parsed = [task.parse(c) for c in completions[start:start + GENERATIONS]]
        expected += len({p.answer for p in parsed if p.well_formed and p.answer})
    assert after_format == expected <= len(completions)
    for c, ref, log, f, a in zip(completions, columns["reference"], columns["logs"], formats, answers):
        reward = task.score(c, ref, log)
        assert (f, a) == (reward.format, reward.answer)
    # a new batch is judged afresh, not read from the last one
    trl_call(ans_fn, prompts[:GENERATIONS], completions[:GENERATIONS], ids[:GENERATIONS],
             {k: v[:GENERATIONS] for k, v in columns.items()})
    assert len(judged) > after_format


def test_a_single_task_function_refuses_rows_of_another_task(real_samples):
    """The default GRPO export has a `task` column: a function made for one task must not score
    an anomaly label as a template (it did, silently: 0.0 instead of -1.0)."""
    task = get_task("anomaly_detection")
    prompts, completions, ids, columns = build_batch(task, real_samples["anomaly_detection"][:2], False)
    columns["task"] = ["anomaly_detection"] * len(completions)
    same = trl_call(AnswerReward("anomaly_detection"), prompts, completions, ids, columns)
    assert same == [task.score(c, r).answer for c, r in zip(completions, columns["reference"])]
    with pytest.raises(ValueError, match=r"scores 'log_parsing' rows only.*names \['anomaly_detection'\].*"
                                         r"trl_reward_functions\(None\)"):
        trl_call(AnswerReward("log_parsing"), prompts, completions, ids, columns)
    mixed = trl_call(AnswerReward(None), prompts, completions, ids, columns)  # each row as its own task
    assert mixed == same
