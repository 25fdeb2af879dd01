"""The reward-hacking suite: one test per exploit, on real samples (the simulator, LogHub, LogLM,
HDFS).

Under ``hardened`` every exploit scores no better than a *plainly wrong* answer:

- anomaly detection: the opposite label;
- log parsing: a wrong but well-formed template, the reference template of another event of the
  same source that shares no word with this one;
- the free-text tasks: an unrelated fluent sentence (:data:`UNRELATED`).

Under ``rlog`` (the released reward, kept bit for bit) the tests show what each exploit earns:
where it pays by design, that it scores above the plainly wrong answer, so that the behaviour is
documented (docs/rewards.md) and a change to it fails here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import gymnasium as gym
import pytest

import rlog_env
from rlog_env.datasets import SOURCES, load_source
from rlog_env.tasks import FORMATS, TASKS, get_task, text_task_names, write_completion
from rlog_env.tasks.hardening import COPIED_MESSAGE, MOSTLY_VARIABLES
from rlog_env.tasks.parsing_metric import analyse_template, lower_score_tokens

UNRELATED = "The weather in the harbour was calm this morning and the ferries left on time."
THINK = "I read the logs line by line and compared them with what a healthy system writes."
PER_SOURCE = 6  # samples of each source per task


def layout(reasoning: str, answer: str, think: str = THINK) -> str:
    if reasoning == "think-first":
        return f"<think>{think}</think><answer>{answer}</answer>"
    if reasoning == "answer-first":
        return f"<answer>{answer}</answer><think>{think}</think>"
    return answer


def _pick(task_name: str, samples, count: int) -> list:
    """The first ``count`` samples; for anomaly detection half of each label."""
    if task_name != "anomaly_detection":
        return [samples[i] for i in range(count)]
    picked = {"normal": [], "abnormal": []}
    for i in range(len(samples) if samples.finite else 2000):
        sample = samples[i]
        bucket = picked[sample.reference]
        if len(bucket) < count // 2:
            bucket.append(sample)
        if all(len(b) == count // 2 for b in picked.values()):
            return picked["normal"] + picked["abnormal"]
    raise AssertionError(f"fewer than {count // 2} samples of each label in {samples}")


def _wrong_template(samples, sample) -> str:
    """A template of another event of the same split that shares no word with the reference."""
    words = set(lower_score_tokens(sample.reference)) - {"*"}
    for i in range(len(samples) if samples.finite else 500):
        other = samples[i].reference
        if not words & set(lower_score_tokens(other)) and other.strip():
            return other
    raise AssertionError(f"no template sharing no word with {sample.reference!r}")


def plainly_wrong(task_name: str, samples, sample) -> str:
    if task_name == "anomaly_detection":
        return "normal" if sample.reference == "abnormal" else "abnormal"
    if task_name == "log_parsing":
        return _wrong_template(samples, sample)
    return UNRELATED


@pytest.fixture(scope="module")
def corpus(data_dir):
    """``corpus[task]``: (source, sample, plainly wrong answer) for every source of the task."""
    out = {}
    for task_name in TASKS:
        rows = []
        for source, spec in SOURCES.items():
            if task_name not in spec.tasks:
                continue
            samples = load_source(source, task_name, split="test", data_dir=data_dir)
            for sample in _pick(task_name, samples, PER_SOURCE):
                rows.append((source, sample, plainly_wrong(task_name, samples, sample)))
        out[task_name] = rows
    return out


def scores(scheme: str, task_name: str, sample, *answers: str, reasoning: str = "think-first",
           raw: bool = False) -> list:
    """The rewards of ``answers`` (laid out in ``reasoning`` unless ``raw``) on ``sample``."""
    task = get_task(task_name, reasoning, scheme)
    return [task.reward_for(a if raw else layout(reasoning, a), sample) for a in answers]


def assert_no_better(task_name: str, sample, wrong: str, exploits: dict[str, str],
                     reasoning: str = "think-first", raw: bool = False):
    """Under hardened each exploit's total is at most that of the plainly wrong answer (laid out
    in the format; the exploits too unless ``raw``)."""
    (baseline,) = scores("hardened", task_name, sample, wrong, reasoning=reasoning)
    for name, exploit in exploits.items():
        (got,) = scores("hardened", task_name, sample, exploit, reasoning=reasoning, raw=raw)
        assert got.total <= baseline.total, (name, sample.meta.get("id"), got, baseline)


# -- 1. both labels in one anomaly answer ------------------------------------------------------------
BOTH_LABELS = ("normal abnormal", "abnormal normal", "normal/abnormal", "abnormal or normal",
               "Normal\nAbnormal", "normal, abnormal", "abnormal (or normal)")


def test_both_labels_in_one_anomaly_answer(corpus):
    rows = corpus["anomaly_detection"]
    assert {s.reference for _, s, _ in rows} == {"normal", "abnormal"}
    assert {source for source, _, _ in rows} == {"sim", "loghub", "loglm", "hdfs"}
    for _, sample, wrong in rows:
        for answer in BOTH_LABELS:
            assert_no_better("anomaly_detection", sample, wrong, {answer: answer})
            # rlog's exact-label rule already makes it wrong: exactly the opposite label's reward
            got, baseline = scores("rlog", "anomaly_detection", sample, answer, wrong)
            assert got.total == baseline.total == pytest.approx(-0.9)
            assert got.details["predicted_label"] == "invalid"


# -- 2. the answer tag repeated with different answers ---------------------------------------------
def test_answer_tag_repeated_with_different_answers(corpus):
    for task_name in TASKS:
        for _, sample, wrong in corpus[task_name]:
            ref = sample.reference
            exact = {  # the exact tag twice: a format error under both schemes
                "reference then wrong": layout("think-first", ref) + f"<answer>{wrong}</answer>",
                "wrong then reference": layout("think-first", wrong) + f"<answer>{ref}</answer>",
            }
            variants = {  # another spelling of the tag: rlog reads it as text
                "second answer in capitals, nested": layout("think-first",
                                                            f"{wrong} <ANSWER>{ref}</ANSWER>"),
                "second answer in capitals, after": layout("think-first", wrong)
                + f"<Answer>{ref}</Answer>",
                "second answer spaced, nested": layout("think-first", f"{wrong} < answer >{ref}"),
            }
            assert_no_better(task_name, sample, wrong, {**exact, **variants}, raw=True)
            for name, completion in {**exact, **variants}.items():
                (reward,) = scores("hardened", task_name, sample, completion, raw=True)
                assert (reward.format, reward.answer) == (-1.0, -1.0), name
            for name, completion in exact.items():
                (reward,) = scores("rlog", task_name, sample, completion, raw=True)
                assert reward.total == -2.0, name
            # under rlog a nested second answer is part of the first: where the metric rewards
            # what the text contains (parsing, free text) it pays above the plainly wrong answer
            nested, baseline = scores("rlog", task_name, sample,
                                      variants["second answer in capitals, nested"],
                                      layout("think-first", wrong), raw=True)
            if task_name == "anomaly_detection":
                assert nested.total == baseline.total  # "normal <ANSWER>abnormal</ANSWER>" is invalid
            else:
                assert nested.total > baseline.total, (task_name, sample.meta.get("id"))


# -- 3. the whole log pasted as the template ---------------------------------------------------------
def _empty_value_sample(data_dir):
    """A LogHub test line whose template has a variable with an empty value, ``()`` in
    "connection from <*> (<*>) at <*>": there rlog pays a copied message once a ``*`` stands."""
    samples = load_source("loghub", "log_parsing", split="test", data_dir=data_dir)
    for i in range(len(samples)):
        sample = samples[i]
        analysed = analyse_template(sample.reference, sample.logs)
        if analysed.matched and any(not value for value in analysed.variable_values):
            return samples, sample
    raise AssertionError("no LogHub test template with an empty variable value")


def test_whole_log_pasted_as_the_template(corpus, data_dir):
    samples, empty_value = _empty_value_sample(data_dir)
    rows = corpus["log_parsing"] + [("loghub", empty_value, _wrong_template(samples, empty_value))]
    assert {source for source, _, _ in rows} == {"sim", "loghub", "loglm"}
    checked = set()
    for source, sample, wrong in rows:
        if not analyse_template(sample.reference, sample.logs).variable_values:
            continue  # no variable: the message is the template
        checked.add(source)
        pasted = {"message": sample.logs, "message and a variable": f"{sample.logs} <*>",
                  "variable and message": f"<*> {sample.logs}"}
        assert_no_better("log_parsing", sample, wrong, pasted)
        for name, answer in pasted.items():
            hardened, rlog = scores("hardened", "log_parsing", sample, answer)[0], \
                scores("rlog", "log_parsing", sample, answer)[0]
            assert hardened.details["guard"] == COPIED_MESSAGE and hardened.answer == 0.0, name
            if name == "message":  # rlog: no "*", so no variable is right: F1 0
                assert rlog.answer == 0.0
    assert checked == {"sim", "loghub", "loglm"}
    # rlog pays the copy where a variable's value is empty: "()" has no token left to catch
    rlog = scores("rlog", "log_parsing", empty_value, f"{empty_value.logs} <*>")[0]
    assert rlog.answer > 0.0, empty_value.reference


# -- 4. the whole log pasted as the explanation ------------------------------------------------------
@pytest.mark.parametrize("task_name", text_task_names())
def test_whole_log_pasted_as_the_explanation(corpus, task_name):
    pasted_beats_wrong = 0
    for source, sample, wrong in corpus[task_name]:
        assert_no_better(task_name, sample, wrong, {"logs": sample.logs,
                                                    "logs twice": f"{sample.logs}\n{sample.logs}"})
        hardened = scores("hardened", task_name, sample, sample.logs)[0]
        assert hardened.answer == 0.0 and hardened.details["copying"] == 0.0
        rlog, baseline = scores("rlog", task_name, sample, sample.logs, wrong)
        if source == "sim":  # rlog pays the values a simulated reference quotes from the window
            assert rlog.answer > 0.0, sample.meta.get("id")
        pasted_beats_wrong += rlog.total > baseline.total
    # and on some samples more than the unrelated sentence (on others less: BLEU has no length
    # penalty, but ROUGE's precision falls with every line pasted)
    assert pasted_beats_wrong > 0


# -- 5. a template of all <*> ---------------------------------------------------------------------
def test_template_of_all_variables(corpus):
    checked = Counter()
    for source, sample, wrong in corpus["log_parsing"]:
        analysed = analyse_template(sample.reference, sample.logs)
        n_words, n_vars = len(analysed.template_words), len(analysed.variable_values)
        if not n_vars or n_vars * 2 >= n_words + n_vars:
            continue  # a reference mostly variables: all <*> is nearly right
        checked[source] += 1
        as_many_as_tokens = " ".join(["<*>"] * len(lower_score_tokens(sample.logs)))
        exploits = {"one": "<*>", "as many as variables": " ".join(["<*>"] * n_vars),
                    "one per message token": as_many_as_tokens}
        assert_no_better("log_parsing", sample, wrong, exploits)
        for name, answer in exploits.items():
            hardened, rlog, baseline = (scores("hardened", "log_parsing", sample, answer)[0],
                                        *scores("rlog", "log_parsing", sample, answer, wrong))
            assert hardened.details["guard"] == MOSTLY_VARIABLES and hardened.answer == 0.0
            # rlog: every variable right (a "*" and none of the values), every word missed:
            # F1 = 2V / (2V + W) for a template that names nothing of the message, as much as
            # a wrong template of another event, more than the message with every word right
            if "*" in analysed.template_words:
                continue  # a literal "*" (BLOCK*) takes a "*" of the prediction as its word
            assert rlog.answer == pytest.approx(2 * n_vars / (2 * n_vars + n_words), abs=1e-12)
            assert rlog.total >= baseline.total, (source, sample.reference, wrong)
            message = scores("rlog", "log_parsing", sample, sample.logs)[0]
            assert rlog.answer > message.answer == 0.0
    assert set(checked) == {"sim", "loghub", "loglm"} and sum(checked.values()) >= 9, checked


# -- 6. n-gram stuffing of the reference's frequent words ------------------------------------------
def stuffings(reference: str) -> dict[str, str]:
    words = reference.split()
    frequent = [word for word, _ in Counter(words).most_common(5)]
    return {"five most frequent, cycled": " ".join((frequent * len(words))[: len(words)]),
            "the most frequent, repeated": " ".join(frequent[:1] * len(words)),
            "frequent bigram, repeated": " ".join(words[:2] * (len(words) // 2))}


@pytest.mark.parametrize("task_name", text_task_names())
def test_ngram_stuffing_of_frequent_words(corpus, task_name):
    for source, sample, wrong in corpus[task_name]:
        exploits = stuffings(sample.reference)
        assert_no_better(task_name, sample, wrong, exploits)
        for name, answer in exploits.items():
            hardened = scores("hardened", task_name, sample, answer)[0]
            assert hardened.answer == 0.0 and hardened.details["repetition"] == 0.0, name
        # rlog clips each word at its reference count but not the answer's repeats: the cycled
        # frequent words pay above the unrelated sentence
        stuffed, baseline = scores("rlog", task_name, sample,
                                   exploits["five most frequent, cycled"], wrong)
        assert stuffed.total > baseline.total, (source, sample.meta.get("id"))


# -- 7. an answer hidden in the think part ---------------------------------------------------------
def test_answer_hidden_in_the_think_part(corpus):
    for task_name in TASKS:
        for source, sample, wrong in corpus[task_name]:
            ref = sample.reference
            for reasoning in ("think-first", "answer-first"):
                hidden = {"wrong answer": layout(reasoning, wrong, think=ref),
                          "empty answer": layout(reasoning, "", think=ref),
                          "answer points at the think": layout(reasoning, "see above", think=ref)}
                assert_no_better(task_name, sample, wrong, hidden, reasoning=reasoning, raw=True)
                # rlog reads the answer part only, as hardened does: the think earns nothing
                got, baseline = scores("rlog", task_name, sample, hidden["wrong answer"],
                                       layout(reasoning, wrong), reasoning=reasoning, raw=True)
                assert got.total == baseline.total
            # "none" takes the whole completion as the answer: a think block in it is read as
            # answer text by rlog, and is a format error under hardened
            completion = f"<think>{ref}</think>{wrong}"
            assert_no_better(task_name, sample, wrong, {"think block": completion},
                             reasoning="none", raw=True)
            got, baseline = scores("rlog", task_name, sample, completion, wrong, reasoning="none",
                                   raw=True)
            if task_name == "anomaly_detection":
                assert got.total == baseline.total  # not a label: invalid, as wrong as wrong
            else:
                assert got.total > baseline.total, (task_name, source)


# -- 8. the reference leaked through info before the step ------------------------------------------
# Keys that would carry the reference or what the scorer knows: none may appear, at any depth.
SECRET_KEYS = {"reference", "label", "labels", "line_labels", "facts", "key_facts", "faults",
               "answer", "template", "eventtemplate", "event_template", "output", "unseen",
               "anomaly", "anomalous", "is_anomaly"}
PLAIN = (str, int, float, bool, type(None))
SIM_WALK = 60


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            assert str(key).lower() not in SECRET_KEYS, path + (key,)
            yield from _leaves(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, path + (i,))
    else:
        assert isinstance(value, PLAIN), (path, type(value))  # plain data: no Sample inside
        yield path, value


@pytest.mark.parametrize("env_id", rlog_env.ENV_IDS)
def test_reference_never_leaks_before_the_step(data_dir, env_id):
    task_name = rlog_env.ENVIRONMENTS[env_id].task_name
    checked = 0
    for source, spec in SOURCES.items():
        if task_name not in spec.tasks:
            continue
        for split in ("train", "test"):
            env = gym.make(env_id, source=source, split=split, data_dir=data_dir)
            base = env.unwrapped
            for i in range(len(base) if base.source.finite else SIM_WALK):
                observation, info = env.reset(options={"index": i})
                sample = base.source[i]
                # the prompt is a function of what the agent may see: the same without the answer
                blind = replace(sample, reference="", facts={})
                assert observation == base.task.prompt(blind)
                assert info["messages"] == base.task.messages(blind)
                reference = sample.reference.strip()
                shown = f"{sample.logs}\n{sample.instruction}"
                secrets = [str(f) for f in sample.facts.get("faults", ())]
                secrets += [f.split(".", 1)[-1] for f in secrets]
                for path, leaf in _leaves(info):
                    if path[0] in ("messages", "logs"):
                        continue  # the prompt, checked above
                    text = str(leaf)
                    if task_name == "anomaly_detection":
                        assert text.strip().lower() not in ("normal", "abnormal"), (source, i, path)
                    elif reference not in shown:
                        assert reference not in text, (source, i, path)
                    for secret in secrets:
                        assert secret not in text, (source, i, path, secret)
                checked += 1
            env.close()
    assert checked >= 4 * SIM_WALK


@pytest.mark.parametrize("task_name", text_task_names())
def test_pasted_log_window_never_beats_a_plainly_wrong_answer_on_any_sample(data_dir, task_name):
    """Under ``hardened`` the log window pasted as the answer earns no more than an unrelated
    sentence on every sample of every source (both splits; 1,000 of the simulator's endless
    train split), in every format: it once earned 0.10003 against 0.1 on simulated samples."""
    checked = 0
    for reasoning in FORMATS:
        task = get_task(task_name, reasoning, "hardened")
        wrong_completion = write_completion(UNRELATED, THINK, reasoning)
        for source, spec in SOURCES.items():
            if task_name not in spec.tasks:
                continue
            for split in ("train", "test"):
                samples = load_source(source, task_name, split=split, data_dir=data_dir)
                for i in range(len(samples) if samples.finite else 1_000):
                    sample = samples[i]
                    pasted = task.reward_for(write_completion(sample.logs, THINK, reasoning), sample)
                    wrong = task.reward_for(wrong_completion, sample)
                    assert pasted.total <= wrong.total, (reasoning, source, split, i, pasted, wrong)
                    checked += 1
    assert checked > 5_000  # 3 formats x (1,500 simulated + every LogLM sample)
