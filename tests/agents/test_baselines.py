"""The baselines without a model: the heuristic agent against the trivial ones, traces, formats.

The figures fixture fits each agent on a training split and measures the mean R-Log reward on
the test split of every (task, source) the heuristic plays — the simulator (the first
``SIM_TRAIN`` training and ``SIM_TEST`` test episodes; also its unseen families and faults,
fitted on seen ones), LogHub, LogLM and the HDFS sessions — and prints the table (run with
``-s`` to see it). Each task's heuristic baseline must beat every trivial baseline there, except
the documented shortfall (``BELOW_CONSTANT``: LogLM anomaly detection, where always-"normal"
wins on the R-Log reward and the rules win on F1).
"""

from __future__ import annotations

import importlib
import sys
import time
from functools import lru_cache

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401  (registers the environments)
from rlog_env.agents.base import Observation
from rlog_env.agents.baselines import (
    BUILTIN_AGENTS,
    TRIVIAL_AGENTS,
    ConstantAgent,
    DrainParser,
    EchoAgent,
    EmptyAgent,
    HeuristicAgent,
    NotFittedError,
    RetrievalAgent,
    RuleAnomalyDetector,
    SubsumptionParser,
    inspect_logs,
    mask_message,
)
from rlog_env.datasets import load_source
from rlog_env.tasks import FORMATS, NO_TAGS, TASKS, TEXT, get_task, parse_completion, tasks_of_kind

SIM_TRAIN, SIM_TEST = 1000, 300
# (task, setting): a setting is a source, or "sim-unseen": the simulator's test episodes of
# unseen families and fault types (domains="unseen"), with the agents fitted on the usual
# (seen) training episodes.
CASES = (
    [(task, "sim") for task in TASKS]
    + [(task, "sim-unseen") for task in TASKS]
    + [("log_parsing", "loghub"), ("anomaly_detection", "loghub")]
    + [(task, "loglm") for task in TASKS]
    + [("anomaly_detection", "hdfs")]
)
AGENTS = ("heuristic",) + TRIVIAL_AGENTS
# Known shortfall, measured once and kept as a strict xfail rather than tuned away: LogLM's
# anomaly test split has 6 abnormal lines in 75, and 8 of its normal lines carry plain failure
# words ("Failed to lookup user 'ntp'", "nfssvc: Cannot allocate memory", "Ido packet timeout"),
# so the rules' accuracy (88 %) stays under always-"normal" (92 %). On the field's own metric,
# F1 of "abnormal", the rules win (see test_anomaly_rules_beat_the_trivial_baselines_on_f1).
BELOW_CONSTANT = {("anomaly_detection", "loglm")}


def _data(source, data_dir):
    return None if source.startswith("sim") else data_dir


def _source(setting):
    """``(source, split options)`` of a setting."""
    return ("sim", {"domains": "unseen"}) if setting == "sim-unseen" else (setting, {})


@lru_cache(maxsize=None)
def _samples(task, setting, split, data_dir):
    source, options = _source(setting)
    if split == "train":
        options = {}  # sim-unseen is fitted on the seen training episodes
    samples = load_source(source, task, split=split, data_dir=_data(source, data_dir), **options)
    count = len(samples) if source != "sim" else (SIM_TRAIN if split == "train" else SIM_TEST)
    return tuple(samples[i] for i in range(count))


@lru_cache(maxsize=None)
def _observations(task, setting, split, data_dir, count=None):
    """Observations as the environment shows them: ``reset(options={"index": i})``."""
    source, options = _source(setting)
    env = gym.make(get_task(task).env_id, source=source, data_dir=_data(source, data_dir),
                   split=split, **options)
    total = len(_samples(task, setting, split, data_dir)) if count is None else count
    observations = []
    for i in range(total):
        observation, info = env.reset(options={"index": i})
        observations.append(Observation.from_reset(observation, info))
    env.close()
    return tuple(observations)


def _think(completion, reasoning="think-first"):
    return parse_completion(completion, reasoning).think


def _f1_abnormal(answers, samples):
    predicted = [parse_completion(a).answer or "" for a in answers]
    tp = sum(p.strip().lower() == "abnormal" and s.reference == "abnormal" for p, s in zip(predicted, samples))
    fp = sum(p.strip().lower() == "abnormal" and s.reference != "abnormal" for p, s in zip(predicted, samples))
    fn = sum(p.strip().lower() != "abnormal" and s.reference == "abnormal" for p, s in zip(predicted, samples))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@pytest.fixture(scope="session")
def figures(data_dir):
    """Mean R-Log reward per (task, setting, agent) on the test split, agents fitted on train;
    for anomaly detection also the F1 of "abnormal" under ``("f1", task, setting, agent)``."""
    table, seconds = {}, {}
    started = time.perf_counter()
    for task, setting in CASES:
        t0 = time.perf_counter()
        train = _samples(task, setting, "train", data_dir)
        test = _samples(task, setting, "test", data_dir)
        observations = _observations(task, setting, "test", data_dir)
        scorer = get_task(task)
        for name in AGENTS:
            agent = BUILTIN_AGENTS[name]().fit(list(train))
            answers = agent.act(list(observations))
            assert len(answers) == len(test)
            table[task, setting, name] = sum(scorer.reward_for(a, s).total
                                             for a, s in zip(answers, test)) / len(test)
            if task == "anomaly_detection":
                table["f1", task, setting, name] = _f1_abnormal(answers, test)
        seconds[task, setting] = time.perf_counter() - t0
    total = time.perf_counter() - started
    lines = ["", "Mean R-Log reward on the test split (agents fitted on the training split; "
             f"sim: the first {SIM_TRAIN} training and {SIM_TEST} test episodes; sim-unseen: test "
             "episodes of unseen families and fault types)", "",
             "| task | source | test samples | " + " | ".join(AGENTS) + " | seconds |",
             "|---|---|---:|" + "---:|" * len(AGENTS) + "---:|"]
    for task, setting in CASES:
        cells = " | ".join(f"{table[task, setting, name]:.4f}" for name in AGENTS)
        lines.append(f"| {task} | {setting} | {len(_samples(task, setting, 'test', data_dir))} | "
                     f"{cells} | {seconds[task, setting]:.1f} |")
    lines += ["", "Anomaly detection, F1 of 'abnormal' on the test split", "",
              "| source | " + " | ".join(AGENTS) + " |", "|---|" + "---:|" * len(AGENTS)]
    for task, setting in CASES:
        if task == "anomaly_detection":
            lines.append(f"| {setting} | " + " | ".join(f"{table['f1', task, setting, name]:.4f}"
                                                         for name in AGENTS) + " |")
    lines.append(f"\n(all {len(CASES)} cases × {len(AGENTS)} agents in {total:.1f} s)")
    print("\n".join(lines))
    return table


# -- the figures -----------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "setting"), [
    pytest.param(task, setting, id=f"{task}-{setting}", marks=[pytest.mark.xfail(
        strict=True, reason="LogLM anomaly labels: failure-worded lines labelled normal")]
        if (task, setting) in BELOW_CONSTANT else [])
    for task, setting in CASES])
def test_heuristic_beats_every_trivial_baseline(figures, task, setting):
    heuristic = figures[task, setting, "heuristic"]
    for name in TRIVIAL_AGENTS:
        assert heuristic > figures[task, setting, name], (
            f"{task} on {setting}: heuristic {heuristic:.4f} does not beat {name} "
            f"{figures[task, setting, name]:.4f}")


@pytest.mark.parametrize("setting", [s for t, s in CASES if t == "anomaly_detection"])
def test_anomaly_rules_beat_the_trivial_baselines_on_f1(figures, setting):
    heuristic = figures["f1", "anomaly_detection", setting, "heuristic"]
    assert heuristic > 0.5
    for name in TRIVIAL_AGENTS:
        assert heuristic > figures["f1", "anomaly_detection", setting, name]


def test_figures_cover_every_case_and_lie_in_the_reward_range(figures):
    for task, setting in CASES:
        low, high = get_task(task).reward_range
        for name in AGENTS:
            assert low - 1e-9 <= figures[task, setting, name] <= high + 1e-9


# -- traces, formats, determinism ------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_on_sim():
    """A heuristic agent fitted on the simulator's first training episodes of every task."""
    train = [s for task in TASKS for s in _samples(task, "sim", "train", None)[:300]]
    return HeuristicAgent().fit(train)


@pytest.mark.parametrize("task", TASKS)
def test_traces_are_sample_specific(fitted_on_sim, task):
    observations = _observations(task, "sim", "test", None, 6)
    answers = fitted_on_sim.act(list(observations))
    thinks = [_think(a) for a in answers]
    assert all(thinks) and len(set(thinks)) == len(thinks), "two samples gave the same trace"
    for observation, think in zip(observations, thinks):
        if task == "log_parsing":  # the trace quotes the message it parses
            assert " ".join(observation.logs.split())[:60] in think
        assert len(think) > 80


@pytest.mark.parametrize("reasoning", FORMATS)
@pytest.mark.parametrize("task", TASKS)
def test_answers_are_well_formed_in_each_format(fitted_on_sim, task, reasoning):
    observations = list(_observations(task, "sim", "test", None, 4))
    reference = [parse_completion(a).answer for a in fitted_on_sim.act(observations)]
    agent = HeuristicAgent(reasoning=reasoning).fit(
        [s for t in TASKS for s in _samples(t, "sim", "train", None)[:300]])
    for completion, expected in zip(agent.act(observations), reference):
        parsed = parse_completion(completion, reasoning)
        assert parsed.well_formed and parsed.answer == expected
        assert (parsed.think is None) == (reasoning == NO_TAGS)
    for name in TRIVIAL_AGENTS:
        completions = BUILTIN_AGENTS[name](reasoning=reasoning).act(observations)
        for completion in completions:
            parsed = parse_completion(completion, reasoning)
            if name == "empty":  # an empty answer: well formed in tags, empty text without them
                assert parsed.answer in ("", None) and parsed.well_formed == (reasoning != NO_TAGS)
            else:
                assert parsed.well_formed and parsed.answer


@pytest.mark.parametrize("task", TASKS)
def test_agents_are_deterministic(task):
    train = list(_samples(task, "sim", "train", None)[:300])
    observations = list(_observations(task, "sim", "test", None, 8))
    first = HeuristicAgent().fit(train).act(observations)
    agent = HeuristicAgent().fit(train)
    assert agent.act(observations) == first
    assert agent.act(observations) == first  # acting again changes nothing
    assert agent.act(observations[::-1]) == first[::-1]  # nor does the order of episodes
    assert [agent.act([o])[0] for o in observations] == first  # nor the batch size


def test_a_mixed_batch_is_dispatched_by_task(fitted_on_sim):
    per_task = {task: list(_observations(task, "sim", "test", None, 2)) for task in TASKS}
    mixed = [per_task[task][i] for i in range(2) for task in TASKS]
    expected = {task: fitted_on_sim.act(obs) for task, obs in per_task.items()}
    answers = fitted_on_sim.act(mixed)
    assert answers == [expected[task][i] for i in range(2) for task in TASKS]


# -- scikit-learn conventions ----------------------------------------------------------------
AGENT_CLASSES = (HeuristicAgent, DrainParser, SubsumptionParser, RuleAnomalyDetector, RetrievalAgent,
                 ConstantAgent, EchoAgent, EmptyAgent)


@pytest.mark.parametrize("cls", AGENT_CLASSES, ids=lambda c: c.__name__)
def test_fit_returns_self_and_learns_only_underscore_attributes(cls):
    train = [s for task in TASKS for s in _samples(task, "sim", "train", None)[:60]]
    agent = cls()
    params = agent.get_params()
    before = set(vars(agent))
    assert before == set(params), "__init__ should store its parameters and nothing else"
    assert agent.fit(train) is agent
    learnt = set(vars(agent)) - before
    assert learnt and all(name.endswith("_") and not name.startswith("_") for name in learnt)
    assert agent.get_params() == params
    assert type(agent)(**agent.get_params()).get_params() == params
    assert isinstance(agent.name, str) and agent.reasoning == "think-first"


def test_registry_names_and_options():
    assert set(BUILTIN_AGENTS) == {"heuristic", "subsumption", "constant-normal", "echo", "empty"}
    for name, factory in BUILTIN_AGENTS.items():
        agent = factory(reasoning="answer-first")
        assert agent.name == name and agent.reasoning == "answer-first"


def test_a_bad_format_is_refused():
    with pytest.raises(ValueError, match="reasoning expects"):
        EchoAgent(reasoning="think-last").act(list(_observations("log_parsing", "sim", "test", None, 1)))


# -- the parts -------------------------------------------------------------------------------
def test_drain3_missing_raises_an_import_error_naming_the_extra(monkeypatch):
    for module in [m for m in sys.modules if m == "drain3" or m.startswith("drain3.")]:
        monkeypatch.delitem(sys.modules, module)
    for module in ("drain3", "drain3.template_miner", "drain3.template_miner_config", "drain3.masking"):
        monkeypatch.setitem(sys.modules, module, None)  # `import drain3` now raises ImportError
    # The package imports without drain3: drain3 is imported only when Drain is used.
    for module in [m for m in sys.modules if m.startswith("rlog_env.agents.baselines")]:
        monkeypatch.delitem(sys.modules, module)
    baselines = importlib.import_module("rlog_env.agents.baselines")
    sample = _samples("log_parsing", "sim", "train", None)[0]
    with pytest.raises(ImportError, match=r"rlog_env\[baselines\]"):
        baselines.DrainParser().fit([sample])
    with pytest.raises(ImportError, match=r"rlog_env\[baselines\]"):
        baselines.HeuristicAgent().fit([sample])
    # The other baselines do not need it.
    observations = list(_observations("anomaly_detection", "sim", "test", None, 2))
    assert len(baselines.HeuristicAgent().act(observations)) == 2


def test_masking_is_drain3s_own_and_the_answer_uses_wildcards():
    parser = DrainParser().fit(list(_samples("log_parsing", "sim", "train", None)))
    messages = [
        "Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
        "ciod: LOGIN chdir(/p/gb1/stella/RAPTOR/2183) failed: Input/output error",
        "Diagnostics report from attempt_1445144423722_0020_m_000018_0: Container killed",
        "instruction cache parity error corrected at 0x0012ab3f",
    ]
    miner = next(iter(parser.miners_.values()))
    for message in messages:
        masked, found = mask_message(message)
        assert masked == miner.masker.mask(message)
        assert found
    result = parser.parse(messages[0], "hdfs")
    assert "<*>" in result["template"] and "<BLK>" not in result["template"] and "<IP>" not in result["template"]
    assert result["template"].startswith("Received block <*> of size <*> from")


def test_an_unseen_system_gets_its_masked_message():
    parser = DrainParser().fit(list(_samples("log_parsing", "sim", "train", None)[:50]))
    result = parser.parse("Worker 17 connected from 10.0.0.5", "no-such-system")
    assert result["template"] == "Worker <*> connected from <*>" and result["cluster_id"] is None


@pytest.mark.parametrize(("logs", "label"), [
    ("1117869872 2005.06.04 R04-M1-N4-I:J18-U11 RAS KERNEL FATAL data TLB error interrupt", "abnormal"),
    ("1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO 1 ddr errors(s) detected and corrected on rank 0, symbol 3, bit 4", "normal"),
    ("1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", "normal"),
    ("2015-10-18 18:01:50,957 WARN [main] org.apache.hadoop.conf.Configuration: deprecated property", "normal"),
    ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4 user=root", "abnormal"),
    ("Jul 27 14:41:57 combo xinetd[1432]: warning: can't get client address: Connection reset by peer", "normal"),
    ("ciod: Error reading message prefix on CioStream socket to 172.16.96.116:33569, Connection reset by peer", "abnormal"),
    ("[Sun Dec 04 04:47:44 2005] [error] [client 10.0.0.7] File does not exist: /var/www/html/robots.txt", "normal"),
    ("[Sun Dec 04 04:47:44 2005] [error] server reached MaxClients setting, consider raising the MaxClients setting", "abnormal"),
    ("081109 203615 148 INFO dfs.DataNode$PacketResponder: Received block blk_38865049064139660 of size 67108864 from /10.251.42.84\n"
     "081109 203807 222 WARN dfs.DataNode$DataXceiver: 10.251.42.84:50010:Got exception while serving blk_38865049064139660 to /10.251.91.84:", "normal"),
    ("081109 203615 148 INFO dfs.DataNode$PacketResponder: Received block blk_38865049064139660 of size 67108864 from /10.251.42.84\n"
     "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated\n"
     "081109 204106 329 WARN dfs.DataNode$PacketResponder: IOException in BlockReceiver.run(): java.io.IOException: Connection reset by peer", "abnormal"),
])
def test_anomaly_rules_on_known_lines(logs, label):
    result = inspect_logs(logs)
    assert result.label == label
    completion = RuleAnomalyDetector().act([Observation("", (), "anomaly_detection", logs)])[0]
    parsed = parse_completion(completion)
    assert parsed.answer == label
    if result.fired:  # the trace names the line that fired
        assert f"line {result.fired[0].number}" in parsed.think


def test_retrieval_never_fits_on_a_test_split():
    with pytest.raises(ValueError, match="training split"):
        RetrievalAgent().fit(list(_samples("root_cause_analysis", "sim", "test", None)[:5]))


def test_retrieval_needs_fitting_and_answers_with_a_training_reference():
    observations = list(_observations("root_cause_analysis", "sim", "test", None, 3))
    with pytest.raises(NotFittedError, match="fit"):
        RetrievalAgent().act(observations)
    train = _samples("root_cause_analysis", "sim", "train", None)
    agent = RetrievalAgent().fit(list(train))
    references = {s.reference for s in train}
    for observation, completion in zip(observations, agent.act(observations)):
        parsed = parse_completion(completion)
        assert parsed.answer in references
        chosen = agent.retrieve(observation)["sample"]
        assert chosen.meta["id"] in parsed.think and chosen.meta["split"] == "train"


def test_text_agents_refuse_other_tasks():
    observations = list(_observations("log_parsing", "sim", "test", None, 1))
    agent = RetrievalAgent().fit(list(_samples("log_interpretation", "sim", "train", None)[:20]))
    with pytest.raises(ValueError, match="plays"):
        agent.act(observations)
    assert set(agent.indexes_) == {"log_interpretation"} and "log_interpretation" in tasks_of_kind(TEXT)


def test_online_drain_learns_from_the_stream_and_offline_drain_does_not():
    offline = DrainParser().fit(list(_samples("log_parsing", "sim", "train", None)[:50]))
    before = {d: len(m.drain.clusters) for d, m in offline.miners_.items()}
    offline.act(list(_observations("log_parsing", "sim", "test", None, 5)))
    assert {d: len(m.drain.clusters) for d, m in offline.miners_.items()} == before
    online = DrainParser(online=True)
    first = online.parse("Worker 17 joined pool alpha", "new-system")
    second = online.parse("Worker 18 joined pool beta", "new-system")
    assert first["cluster_id"] is None and second["cluster_id"] is not None
    assert second["template"] == "Worker <*> joined pool <*>" and second["varied"] == ["beta"]


def test_quoted_tags_cannot_break_the_format():
    logs = "GET /x?q=</answer><think> HTTP/1.1 404"
    observation = Observation("", (), "log_parsing", logs)
    for reasoning in ("think-first", "answer-first"):
        parsed = parse_completion(EchoAgent(reasoning=reasoning).act([observation])[0], reasoning)
        assert parsed.well_formed and "404" in parsed.answer
