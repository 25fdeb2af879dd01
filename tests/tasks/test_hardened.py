"""The ``hardened`` reward scheme: accepted wherever a scheme is, ``rlog``'s range and top values,
``rlog``'s judgement of honest answers, and each closure on its own (the exploits themselves are
in tests/tasks/test_reward_hacking.py)."""

from __future__ import annotations

import io
import json
import math
import time

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rlog_env
from rlog_env import cli
from rlog_env.datasets import SOURCES, load_source
from rlog_env.tasks import (FORMATS, HARDENED, SCHEMES, TASKS, get_task, text_task_names,
                            parse_completion, trl_reward_functions)
from rlog_env.tasks.hardening import (COPIED_MESSAGE, MOSTLY_VARIABLES, band, copied_share,
                                      distinct_bigram_share, log_trigrams, text_context)
from rlog_env.tasks.parsing_metric import lower_score_tokens
from tests.tasks.test_formats_and_rewards import layout
from tests.tasks.test_text_reward_golden import _perturb

TOP = {name: 0.1 + cls.rlog_answer_range[1] for name, cls in TASKS.items()}  # the tasks' own ranges
SIM_WALK = 60  # episodes of the simulator's splits walked (its train stream is endless)


# -- accepted everywhere ----------------------------------------------------------------------------
def test_hardened_is_a_scheme_of_every_task_and_keeps_rlog_ranges():
    assert HARDENED == "hardened" and HARDENED in SCHEMES
    for name in TASKS:
        for reasoning in FORMATS:
            hardened, rlog = get_task(name, reasoning, "hardened"), get_task(name, reasoning)
            assert hardened.reward_range == rlog.reward_range == (-2.0, TOP[name])


def test_an_unknown_scheme_names_hardened_among_the_valid_ones():
    with pytest.raises(ValueError, match="'hardened'") as error:
        get_task("log_parsing", reward="hardend")
    assert "'hardend'" in str(error.value)


@pytest.mark.parametrize("env_id", rlog_env.ENV_IDS)
def test_gymnasium_make_takes_hardened_on_every_source(data_dir, env_id):
    task_name = rlog_env.ENVIRONMENTS[env_id].task_name
    for source, spec in SOURCES.items():
        if task_name not in spec.tasks:
            continue
        env = gym.make(env_id, source=source, data_dir=data_dir, reward="hardened")
        base = env.unwrapped
        assert base.task.reward == "hardened" and base.reward_range == (-2.0, TOP[task_name])
        env.reset(options={"index": 0})
        sample = base.source[0]
        _, reward, terminated, _, info = env.step(base.task.reference_completion(sample))
        assert terminated and reward == TOP[task_name], (env_id, source)
        env.close()


@pytest.mark.parametrize("task_name", list(TASKS))
def test_trl_reward_functions_under_hardened_give_the_task_total(real_samples, task_name):
    task = get_task(task_name, reward="hardened")
    fmt_fn, ans_fn = trl_reward_functions(task_name, reward="hardened")
    assert fmt_fn.reward == ans_fn.reward == "hardened"
    samples = real_samples[task_name]
    completions, columns = [], {"reference": [], "logs": []}
    for sample in samples:
        for answer in (sample.reference, "<*> <*> <*>", sample.logs, "normal abnormal"):
            completions.append(layout("think-first", answer))
            columns["reference"].append(sample.reference)
            columns["logs"].append(sample.logs)
    completions.append("<think>t</think><answer>a</answer><ANSWER>b</ANSWER>")
    columns["reference"].append(samples[0].reference)
    columns["logs"].append(samples[0].logs)
    formats = fmt_fn(prompts=[""] * len(completions), completions=completions, **columns)
    answers = ans_fn(prompts=[""] * len(completions), completions=completions, **columns)
    for completion, ref, logs, f, a in zip(completions, columns["reference"], columns["logs"],
                                           formats, answers):
        reward = task.score(completion, ref, logs)
        assert (f, a) == (reward.format, reward.answer)
    assert formats[-1] == -1.0  # the capitalised second answer is a format error


def test_cli_score_takes_hardened(data_dir):
    answer = "<think>t</think><answer><*> <*> <*></answer>"
    out = io.StringIO()
    assert cli.score("RLog/LogParsing-v0", "loghub", "test", str(data_dir), 0, answer,
                     "think-first", "hardened", out=out) == 0
    data = json.loads(out.getvalue())
    assert data["metrics"]["guard"] == MOSTLY_VARIABLES and data["reward"]["answer"] == 0.0
    args = cli.build_parser().parse_args(["score", "RLog/LogParsing-v0", "--index", "0",
                                          "--answer", "x", "--reward", "hardened"])
    assert args.reward == "hardened"


# -- the reference earns the top, honest answers are judged as rlog judges them -------------------
@pytest.mark.parametrize("task_name", list(TASKS))
def test_the_reference_tops_every_sample_of_every_source(data_dir, task_name):
    # Every sample of every finite split, and the first SIM_WALK of the simulator's; think-first
    # everywhere, the other formats on every fifth sample. Text references of under four words
    # too: hardened scores the answer relative to what the reference earns against itself.
    walked = 0
    for source, spec in SOURCES.items():
        if task_name not in spec.tasks:
            continue
        for split in ("train", "test"):
            samples = load_source(source, task_name, split=split, data_dir=data_dir)
            count = len(samples) if samples.finite else SIM_WALK
            for reasoning in FORMATS:
                task = get_task(task_name, reasoning, "hardened")
                for i in range(0, count, 1 if reasoning == "think-first" else 5):
                    sample = samples[i]
                    reward = task.reward_for(task.reference_completion(sample), sample)
                    assert reward.total == TOP[task_name], (source, split, i, dict(reward.details))
                    walked += 1
    assert walked > SIM_WALK * 2


def test_hardened_equals_rlog_on_the_released_scorer_cases(data_dir, loglm):
    # The 400 honest hypotheses of the golden file (prefixes, shuffles, halves of LogLM outputs),
    # scored with their logs: none repeats itself, copies the logs or runs long, so hardened
    # gives them rlog's reward to the bit.
    rlog, hardened = get_task("log_interpretation"), get_task("log_interpretation", reward="hardened")
    cases = 0
    with open(data_dir / "reference" / "rlog_text_reward_cases.tsv", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            index, perturbation, seed = line.split("\t")[:3]
            item = loglm[int(index)]
            hypothesis = " ".join(_perturb(item["output"].split(), perturbation, int(seed)))
            completion = layout("think-first", hypothesis)
            expected = rlog.score(completion, item["output"], item["input"])
            got = hardened.score(completion, item["output"], item["input"])
            assert (got.total, got.format, got.answer) == (expected.total, expected.format,
                                                           expected.answer), (index, perturbation)
            assert (got.details["repetition"], got.details["copying"], got.details["length"]) == (
                1.0, 1.0, 1.0)
            cases += 1
    assert cases == 400


def test_wrong_templates_are_judged_as_rlog_judges_them(data_dir):
    # Each LogHub test template scored against the next sample's message and template: a wrong
    # (or, for a recurring event, right) template, judged by rlog's F1 unless a closure applies,
    # and then only for the reason it names.
    samples = load_source("loghub", "log_parsing", split="test", data_dir=data_dir)
    rlog, hardened = get_task("log_parsing"), get_task("log_parsing", reward="hardened")
    guarded = 0
    for i in range(len(samples) - 1):
        target, other = samples[i + 1], samples[i]
        completion = layout("think-first", other.reference)
        expected = rlog.reward_for(completion, target)
        got = hardened.reward_for(completion, target)
        if got.details["guard"] is None:
            assert got.total == expected.total
        else:
            guarded += 1
            assert got.details["guard"] == MOSTLY_VARIABLES and got.answer == 0.0
            tokens = lower_score_tokens(other.reference)
            assert tokens.count("*") * 2 > len(tokens)
    assert 0 < guarded < len(samples) // 10


# -- the strict format rule ----------------------------------------------------------------------
VARIANTS = ("<ANSWER>", "</Answer>", "< answer >", "</ answer>", "<answer\t>", "<THINK>",
            "</think >", "< / think >")


@pytest.mark.parametrize("reasoning", ["think-first", "answer-first"])
def test_another_spelling_of_a_tag_anywhere_is_a_format_error(reasoning):
    good = layout(reasoning, "abnormal", think="Reading the logs.")
    for variant in VARIANTS:
        places = {"before": variant + good, "after": good + variant,
                  "in the answer": good.replace("abnormal", f"abnormal {variant}"),
                  "in the think": good.replace("Reading", f"Reading {variant}")}
        for where, completion in places.items():
            assert parse_completion(completion, reasoning).well_formed, (variant, where)
            assert not parse_completion(completion, reasoning, strict=True).well_formed, (variant, where)
            reward = get_task("anomaly_detection", reasoning, "hardened").score(completion, "abnormal")
            assert (reward.format, reward.answer) == (-1.0, -1.0), (variant, where)
    # lookalikes are not tags: text as in rlog
    for text in ("<answers>", "<thinking>", "<answer-x>", "＜answer＞", "<ans wer>", "<*>"):
        completion = good.replace("Reading", f"Reading {text}")
        assert parse_completion(completion, reasoning, strict=True) == parse_completion(completion, reasoning)


def test_under_none_any_tag_is_a_format_error():
    for completion in ("<think>t</think>abnormal", "abnormal <answer>", "abnormal</ANSWER>",
                       "< think >abnormal"):
        assert parse_completion(completion, "none").well_formed
        assert not parse_completion(completion, "none", strict=True).well_formed
    assert parse_completion("blk_<*> is <*>", "none", strict=True).answer == "blk_<*> is <*>"


def test_the_tag_scan_is_linear_on_long_whitespace():
    # "<" then a long run of whitespace: a backtracking pattern would split the run every way
    # (some 10^11 steps here); the possessive one reads it once (milliseconds)
    completion = "<think>t</think><answer>a</answer>" + "<" + " " * 300_000 + "/" + " " * 300_000
    started = time.perf_counter()
    parsed = parse_completion(completion, "think-first", strict=True)
    assert parsed.well_formed and parsed.answer == "a"
    assert time.perf_counter() - started < 5.0


# -- the parsing closures ---------------------------------------------------------------------------
TEMPLATE = "ciod: generated <*> core files for program <*>"  # 6 words, 2 variables
MESSAGE = "ciod: generated 512 core files for program /bgl/apps/scaletest/allreduce.rts"


def _parsing(answer: str, reference: str = TEMPLATE, message: str = MESSAGE, scheme="hardened"):
    return get_task("log_parsing", reward=scheme).score(layout("think-first", answer), reference,
                                                         message)


def test_mostly_variables_is_more_than_half_and_more_than_the_reference():
    assert _parsing("<*> <*>").details["guard"] == MOSTLY_VARIABLES
    assert _parsing("<*> <*>").answer == 0.0 < _parsing("<*> <*>", scheme="rlog").answer
    assert _parsing("core <*> <*>").details["guard"] == MOSTLY_VARIABLES  # 2 of 3
    assert _parsing("core <*>").details["guard"] is None  # exactly half: not "mostly"
    assert _parsing("core <*>").answer == _parsing("core <*>", scheme="rlog").answer
    # a reference that is itself mostly variables: its own share is never "more"
    reference, message = "<*> <*> started", "worker 7 started"
    assert _parsing("<*> <*> started", reference, message).total == 1.1
    assert _parsing("<*> <*> <*>", reference, message).details["guard"] == MOSTLY_VARIABLES
    assert _parsing("<*> started", reference, message).details["guard"] is None  # half


def test_a_template_still_holding_the_raw_message_is_copied():
    for answer in (MESSAGE, f"  {MESSAGE}\n", f"{MESSAGE} <*>", f"<*> {MESSAGE} <*>"):
        reward = _parsing(answer)
        assert reward.details["guard"] == COPIED_MESSAGE and reward.answer == 0.0
    # a value without score tokens ("-") is right whenever a "*" stands: rlog pays the copy
    reference, message = "session <*> closed <*>", "session - closed -"
    assert _parsing(f"{message} <*>", reference, message, "rlog").answer == 1.0
    assert _parsing(f"{message} <*>", reference, message).details["guard"] == COPIED_MESSAGE
    assert _parsing(f"{message} <*>", reference, message).answer == 0.0
    # a reference that contains its message (an empty value) is not a copy
    reference, message = "session closed <*>", "session closed"
    assert _parsing(reference, reference, message).total == 1.1
    # no variable in the reference: the message is the template
    assert _parsing("session closed", "session closed", "session closed").total == 1.1


# -- the text factors -----------------------------------------------------------------------------
def test_band():
    assert band(0.9, 0.5, 0.9) == 1.0 and band(0.5, 0.5, 0.9) == 0.0
    assert band(0.7, 0.5, 0.9) == pytest.approx(0.5) and band(0.0, 0.0, 0.0) == 1.0


def test_distinct_bigrams_and_copied_trigrams_by_hand():
    assert distinct_bigram_share("a b a b a".split()) == 2 / 4
    assert distinct_bigram_share("a b".split()) == 1.0  # under two bigrams
    grams = log_trigrams("x disk is full on node7 now")
    assert copied_share("the disk is full on node7".split(), grams) == 3 / 4
    assert copied_share("disk is".split(), grams) == 0.0  # no trigram
    assert copied_share("a b c".split(), frozenset()) == 0.0


REFERENCE = "The disk of node7 is full so the datanode cannot write new blocks and fails"
LOGS = "\n".join(["2024 WARN node7 disk /data is 98% full", "2024 ERROR node7 write failed: "
                  "No space left on device", "2024 INFO node3 heartbeat ok"] * 3)


def test_the_factors_are_one_for_the_reference_and_honest_answers():
    context = text_context(REFERENCE, LOGS)
    for answer in (REFERENCE, "node7 ran out of disk space", "The datanode on node7 cannot write "
                   "because its disk is full: No space left on device"):
        assert context.factors(answer.split()) == (1.0, 1.0, 1.0), answer


def test_repetition_copying_and_length_by_hand():
    context = text_context(REFERENCE, LOGS)  # 14 distinct bigrams of 14: d_ref = 1
    # d = 2 / 5: at or below d_ref / 2 -> 0
    assert context.factors("disk full disk full disk full".split()).repetition == 0.0
    # 6 distinct of 9 bigrams, d = 0.666..., between 0.5 and 0.9: (d - 0.5) / 0.4
    words = "the disk is full the disk is full node7 now".split()
    assert distinct_bigram_share(words) == 6 / 9
    assert context.factors(words).repetition == pytest.approx((6 / 9 - 0.5) / 0.4)
    # a pasted window, or one log message restated: every trigram copied -> 0
    assert context.factors(LOGS.split()).copying == 0.0
    assert context.factors("No space left on device".split()).copying == 0.0
    # half copied or less -> allowed
    half = "2024 WARN node7 disk so the datanode fails".split()  # 2 of 6 trigrams copied
    assert context.factors(half).copying == 1.0
    mostly = "2024 WARN node7 disk /data is 98% full so it fails".split()  # 6 of 9 copied
    assert context.factors(mostly).copying == pytest.approx((3 / 9) / 0.5)
    # 15 reference words: up to 30 in full, 45 words -> 30 / 45
    assert context.factors(("word " * 30).split()).length == 1.0
    assert context.factors([f"w{i}" for i in range(45)]).length == pytest.approx(30 / 45)


@pytest.mark.parametrize("task_name", text_task_names())
def test_a_short_reference_earns_the_top_under_hardened(task_name):
    for reasoning in FORMATS:
        task = get_task(task_name, reasoning, "hardened")
        for reference in ("disk full", "timeout", "disk is full"):
            assert task.score(layout(reasoning, reference), reference).total == 1.35
        # rlog gives "disk full" no BLEU-4: 0.9375 + 0.1
        assert get_task(task_name, reasoning).score(layout(reasoning, "disk full"),
                                                    "disk full").total == pytest.approx(1.0375)


@pytest.mark.parametrize("task_name", list(TASKS))
@pytest.mark.parametrize("reasoning", FORMATS)
def test_score_group_equals_score_under_hardened(real_samples, task_name, reasoning):
    task = get_task(task_name, reasoning, "hardened")
    for sample in real_samples[task_name]:
        answers = [sample.reference, sample.logs, "<*> <*> <*>", "normal abnormal",
                   " ".join(sample.reference.split()[:3] * 5), ""]
        group = [layout(reasoning, a) for a in answers] + [layout(reasoning, answers[0])]
        expected = [task.score(c, sample.reference, sample.logs) for c in group]
        assert task.score_group(group, sample.reference, sample.logs) == expected
        for reward in expected:
            assert math.isfinite(reward.total) and -2.0 <= reward.total <= TOP[task_name]


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
PIECES = st.sampled_from(["<*>", "*", " ", "<answer>", "</ANSWER>", "the", "disk", "\x00",
                          "\ud800", "\u202e", "normal"])
ODD_TEXT = st.one_of(ANY_TEXT, st.lists(PIECES, max_size=12).map("".join))


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(answer=ODD_TEXT, reference=ODD_TEXT, logs=ODD_TEXT)
def test_arbitrary_references_and_logs_under_hardened(answer, reference, logs):
    # references and logs from a source are data: odd ones (empty, all <*>, surrogates) must not
    # break the closures, which read both
    for name in TASKS:
        for reasoning in FORMATS:
            task = get_task(name, reasoning, "hardened")
            completions = [layout(reasoning, answer), answer, layout(reasoning, reference)]
            rewards = task.score_group(completions, reference, logs)
            assert rewards == [task.score(c, reference, logs) for c in completions]
            for reward in rewards:
                assert math.isfinite(reward.total) and -2.0 <= reward.total <= TOP[name]
                assert reward.total == reward.format + reward.answer
