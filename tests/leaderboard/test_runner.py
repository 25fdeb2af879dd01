"""The evaluation runner: run directories, resumption, rescoring, the leaderboard files."""

from __future__ import annotations

import json

import pytest

from rlog_env import load_source
from rlog_env.agents.base import FunctionAgent
from rlog_env.leaderboard import tables
from rlog_env.leaderboard.results import read_results, repair
from rlog_env.leaderboard.runner import evaluate, rescore

NORMAL = "<think>Routine traffic only.</think><answer>normal</answer>"
ENVS = ["RLog/AnomalyDetection-v0", "RLog/LogParsing-v0"]


def normal_agent(prompt: str) -> str:
    return NORMAL


def agents():
    return [FunctionAgent(normal_agent, name="normal"), FunctionAgent(lambda p: "", name="empty")]


def test_a_run_records_every_episode_once(tmp_path):
    frame = evaluate(agents(), ENVS, episodes=12, run_dir=tmp_path / "run", batch_size=5)
    assert len(frame) == 2 * 2 * 12
    keys = {(r.agent, r.env, r.index) for r in frame.itertuples()}
    assert len(keys) == len(frame)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["agents"] == ["normal", "empty"] and len(config["samples_sha256"]) == 64
    assert "version" in config
    record = next(read_results(tmp_path / "run"))
    for key in ("observation", "answer", "reward", "metrics", "latency_s", "reference", "domain"):
        assert key in record
    assert frame[frame.agent == "empty"]["reward"].map(lambda r: r["total"]).eq(-2.0).all()


def test_a_resumed_run_skips_what_is_done_and_redoes_a_torn_line(tmp_path):
    # Every kind of torn tail, and real `rlog eval` processes killed with SIGKILL: test_interrupted.py
    run = tmp_path / "run"
    evaluate(agents(), ENVS, episodes=6, run_dir=run)
    results = run / "results.jsonl"
    data = results.read_bytes()
    results.write_bytes(data[: len(data) - 40])  # torn mid-line, as a kill mid-write leaves it
    complete = len(list(read_results(run)))
    assert complete == 2 * 2 * 6 - 1
    frame = evaluate(agents(), ENVS, episodes=6, run_dir=run)
    assert len(frame) == 2 * 2 * 6
    assert len({(r.agent, r.env, r.index) for r in frame.itertuples()}) == len(frame)
    assert results.read_bytes().endswith(b"\n")


def test_repair_truncates_only_a_torn_last_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n{"c"')
    assert repair(tmp_path) == len('{"c"')
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'
    assert repair(tmp_path) == 0


def test_another_configuration_is_refused(tmp_path):
    evaluate(agents(), ENVS, episodes=3, run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="another configuration"):
        evaluate(agents(), ENVS, episodes=4, run_dir=tmp_path / "run")


def test_rescore_reproduces_and_catches_an_edited_score(tmp_path):
    run = tmp_path / "run"
    evaluate(agents(), ENVS, episodes=5, run_dir=run)
    assert rescore(run) == []
    lines = (run / "results.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["reward"]["total"] += 0.5  # a submitter "improves" one score
    lines[0] = json.dumps(record)
    (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    differences = rescore(run)
    assert len(differences) == 1 and differences[0]["recorded"] == record["reward"]


def test_leaderboard_files_and_breakdown(tmp_path):
    frame = evaluate(agents(), ENVS, episodes=30, run_dir=tmp_path / "run")
    board = tables.leaderboard(frame)
    paths = tables.write(board, tmp_path / "run")
    names = {p.name for p in paths}
    assert {"leaderboard.md", "leaderboard.csv", "leaderboard.json"} <= names
    rows = {row["agent"]: row for row in board["rows"]}
    ad = rows["normal"]["tasks"]["AnomalyDetection"]
    assert ad["format_valid"] == 1.0 and ad["metrics"]["recall"] == 0.0
    low, high = ad["reward_ci"]
    assert low <= ad["reward"] <= high
    assert {"seen", "unseen"} <= set(ad["by_domain"])  # the simulator evaluates both by default
    assert rows["empty"]["tasks"]["LogParsing"]["reward"] == -2.0
    markdown = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "| normal |" in markdown and "AnomalyDetection" in markdown


def test_a_function_is_an_agent_and_a_bad_agent_is_named(tmp_path):
    frame = evaluate([normal_agent], ["RLog/AnomalyDetection-v0"], episodes=3, run_dir=tmp_path / "r")
    assert set(frame.agent) == {"normal_agent"}
    with pytest.raises(ValueError, match="unknown agent"):
        evaluate(["no-such-agent"], ["RLog/AnomalyDetection-v0"], episodes=3, run_dir=tmp_path / "s")


def test_any_answer_text_is_recorded_and_reads_back_exactly(tmp_path):
    # A lone surrogate cannot be written as UTF-8 (it crashed the run); NUL, line and paragraph
    # separators, CR and right-to-left marks must not split or garble a record either.
    texts = ["<answer>\ud800normal</answer>", "<think>\x00</think><answer>normal\r\nabnormal</answer>",
             "<answer>\u202enormal\u2028\u2029</answer>", "<answer>é✓\U0001F600</answer>"]
    answers = iter(texts * 2)
    agent = FunctionAgent(lambda prompt: next(answers), name="anything")
    frame = evaluate([agent], ["RLog/AnomalyDetection-v0"], episodes=len(texts), run_dir=tmp_path / "run",
                     fit=False)
    assert [r["answer"] for r in read_results(tmp_path / "run")] == texts == list(frame["answer"])
    assert frame["latency_s"].dtype.kind == "f"
    assert tables.leaderboard(frame)["rows"][0]["tasks"]["AnomalyDetection"]["episodes"] == len(texts)
    assert (tmp_path / "run" / "results.jsonl").read_bytes().count(b"\n") == len(texts)


def test_index_set_keeps_runs_of_indices_not_one_entry_per_index():
    import random

    from rlog_env.leaderboard.results import EpisodeSet, IndexSet

    indices = IndexSet()
    assert all(indices.add(i) for i in range(100_000)) and indices.runs == 1 and len(indices) == 100_000
    assert not indices.add(5) and 99_999 in indices and 100_000 not in indices and -1 not in indices
    shuffled, reference = IndexSet(), set()
    order = list(range(0, 3000, 1)) + list(range(5000, 6000, 3))
    random.Random(1).shuffle(order)
    for i in order:
        assert shuffled.add(i) == (i not in reference)
        reference.add(i)
    assert all((i in shuffled) == (i in reference) for i in range(-2, 6100))
    assert len(shuffled) == len(reference) and shuffled.runs == 1 + 334  # gaps merged back into runs
    done = EpisodeSet()
    assert done.add(("a", "env", 3)) and not done.add(("a", "env", 3)) and done.add(("b", "env", 3))
    assert ("a", "env", 3) in done and ("a", "env", 4) not in done and len(done) == 2


def test_plans_are_ranges_and_resumption_holds_runs_not_keys(tmp_path):
    from rlog_env.leaderboard.results import recorded_episodes
    from rlog_env.leaderboard.runner import EvalConfig, plan

    plans = plan(EvalConfig(agents=("a",), envs=tuple(ENVS), split="train", episodes=10**9))
    assert [p.indices for p in plans] == [range(10**9)] * 2
    run = tmp_path / "run"
    evaluate(agents(), ENVS, episodes=30, run_dir=run, batch_size=7)
    done = recorded_episodes(run)
    assert len(done) == 2 * 2 * 30 and done.runs == 4  # one run of indices per (agent, env)


class _RecordingAgent:
    """Answers ``normal`` to everything; its ``fit`` records the system, split and facts of every
    sample it is given."""

    name, reasoning = "recording", "think-first"

    def __init__(self):
        self.fitted: list[tuple[str, str, dict]] = []

    def fit(self, samples):
        self.fitted += [(s.domain, s.meta["split"], dict(s.facts)) for s in samples]
        return self

    def act(self, observations):
        return [NORMAL for _ in observations]


def test_loghub_unseen_protocol_fits_on_seen_systems_only_and_reports_both_rows(tmp_path, data_dir):
    from rlog_env.datasets import loghub
    from rlog_env.leaderboard.results import read_header

    agent = _RecordingAgent()
    run = tmp_path / "run"
    frame = evaluate([agent], ENVS, source="loghub", data_dir=data_dir, protocol="unseen", run_dir=run)
    present = set(load_source("loghub", "log_parsing", data_dir=data_dir).domains)
    # fit saw the train samples of the seen systems, every one of them, and no held-out system
    assert {split for _, split, _ in agent.fitted} == {"train"}
    assert {domain for domain, _, _ in agent.fitted} == present - set(loghub.HELD_OUT)
    assert not any(facts["unseen"] for _, _, facts in agent.fitted)
    # the run: every system's test samples, held-out ones recorded as unseen
    parsing = frame[frame.task == "log_parsing"]
    assert set(parsing.domain) == present
    assert len(parsing) == len(load_source("loghub", "log_parsing", split="test", data_dir=data_dir))
    assert all(r.unseen == (r.domain in loghub.HELD_OUT) for r in frame.itertuples())
    assert parsing.unseen.any() and not parsing.unseen.all()
    board = tables.leaderboard(read_results(run))
    cells = board["rows"][0]["tasks"]
    assert {"seen", "unseen"} <= set(cells["LogParsing"]["by_domain"])
    assert cells["AnomalyDetection"]["by_domain"]["seen"] == cells["AnomalyDetection"]["reward"]  # BGL: seen
    assert "unseen" not in cells["AnomalyDetection"]["by_domain"]
    assert "| recording | LogParsing |" in tables.markdown(board)
    header = read_header(run)
    assert header["config"]["protocol"] == "unseen"
    assert header.get("absent_domains", []) == sorted(set(loghub.HELD_OUT) - present)
    assert rescore(run, data_dir) == []
    # named systems: fit on those the protocol keeps in train, or on every seen one when it keeps none
    for named, fitted in ((["Android", "Linux"], {"Linux"}), (["Android"], present - set(loghub.HELD_OUT))):
        agent = _RecordingAgent()
        frame = evaluate([agent], ["RLog/LogParsing-v0"], source="loghub", data_dir=data_dir, protocol="unseen",
                         domains=named, run_dir=tmp_path / "-".join(named))
        assert {domain for domain, _, _ in agent.fitted} == fitted and set(frame.domain) == set(named)
    # the default protocol is today's: no key in config.json (runs made before it resume), no
    # unseen episode, no seen/unseen breakdown
    default = evaluate([_RecordingAgent()], ["RLog/LogParsing-v0"], source="loghub", data_dir=data_dir,
                       episodes=20, run_dir=tmp_path / "default")
    assert "protocol" not in read_header(tmp_path / "default")["config"] and not default.unseen.any()
    assert "seen" not in tables.leaderboard(default)["rows"][0]["tasks"]["LogParsing"]["by_domain"]


def test_a_protocol_on_a_source_without_one_names_those_that_have_it(tmp_path):
    with pytest.raises(ValueError, match=r"protocol applies to source\(s\) loghub; source 'sim' has none"):
        evaluate(agents(), ENVS, protocol="unseen", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
