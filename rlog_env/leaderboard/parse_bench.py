"""Log parsers scored the way logpai's benchmarks score them: every line of each LogHub 2k system.

``rlog eval`` scores the *distinct* messages of a split, one episode each. The published parser
numbers (Zhu et al., ICSE'19; Jiang et al., ISSTA'24) are computed otherwise: the parser reads
all 2,000 lines of a system and GA, FGA, PA and FTA are taken over those 2,000 lines, so a
message counts as often as it occurs. :func:`parse_bench` does that for any agent:

- **Systems**: every LogHub system present in the data directory (``loghub/<S>/``) that has
  the chosen ground truth; the scores' mean is over those systems, and the Drain row's mean
  over the same ones.
- **Ground truth**: ``original`` is LogHub's own (``loghub/<S>/<S>_2k.log_structured.csv``;
  GA and FGA group the truth by ``EventId``, as logparser's evaluator does, so GA is the number
  Zhu et al. published); ``corrected`` is Loghub-2.0's corrected truth
  (``loghub2_2k_corrected/``, Jiang et al., ISSTA'24; groups by template string, as its
  evaluator does). Android and Windows have no Loghub-2.0 set and are left out under
  ``corrected`` (Khan et al.'s ``loghub_2k_corrected`` is not what the published numbers use).
- **Fitting**: an agent with ``fit`` is fitted afresh for each system, on that system's 2,000
  lines in ``LineId`` order as log-parsing samples with an *empty* reference: the raw messages,
  never a label (logpai's Drain likewise reads every line it then parses). Nothing of another
  system is seen. The same rule holds for every system and every agent.
- **Answering**: each distinct message of a system is asked once, through the environment's
  own observation (:func:`rlog_env.envs.reset_info`, the task's prompt) in batches of ``act``;
  the answer is read by the task's format rule (``task.parse``; a malformed or empty answer is
  the empty template), and every line gets the answer of its message. So an LLM agent is not
  asked 2,000 times for Linux's 290 distinct messages.
- **Scoring**: :func:`rlog_env.leaderboard.metrics.parsing_metrics`, the code that reproduces
  logpai's own evaluators on Drain's predictions (``reference/drain_metrics.tsv``); templates
  are compared exactly as given, as those evaluators compare them.

The Drain row is logpai's Drain predictions (``reference/drain_predictions.tsv``, logparser's
per-system benchmark settings) scored by the same code: under ``original`` its GA is the
published one (mean .914 over the 12 systems shipped in shared/data; .865 over all 16, four of
which are not shipped), under ``corrected`` its four metrics are Loghub-2.0's published ones.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from rlog_env.agents.base import Agent, Observation, as_agent
from rlog_env.datasets import loghub
from rlog_env.datasets.base import DataError, resolve_data_dir
from rlog_env.envs import reset_info
from rlog_env.leaderboard.metrics import parsing_metrics
from rlog_env.tasks import RLOG, Sample, get_task
from rlog_env.tasks.base import prompt_text
from rlog_env.tasks.log_parsing import LogParsing

METRICS = ("GA", "FGA", "PA", "FTA")
GROUND_TRUTHS = ("original", "corrected")
DRAIN = "drain (logpai)"
DEFAULT_BATCH_SIZE = 64
SPLIT = "all"  # what an observation's info calls the split: every line of the system
FITTING = ("each system's 2,000 raw lines in LineId order, no labels (agents with fit are fitted "
           "afresh per system); each distinct message answered once")
GROUND_TRUTH_HELP = {
    "original": "LogHub's own templates (loghub/), truth grouped by EventId as logparser's evaluator does",
    "corrected": "Loghub-2.0's corrected templates (loghub2_2k_corrected/; no Android, Windows)",
}


@dataclass(frozen=True)
class SystemTruth:
    """Every line of one system: its message, its truth's grouping key and its true template."""

    system: str
    messages: tuple[str, ...]
    groups: tuple[str, ...] | None  # EventIds under `original`; None: group by template string
    templates: tuple[str, ...]


def _check_ground_truth(ground_truth: str) -> None:
    if ground_truth not in GROUND_TRUTHS:
        raise ValueError(f"--ground-truth expects one of {', '.join(GROUND_TRUTHS)}, got {ground_truth!r}")


def system_truths(root: Path, ground_truth: str, systems: Sequence[str] | None = None) -> list[SystemTruth]:
    """The lines of every LogHub system under ``root`` that has ``ground_truth`` (or of
    ``systems`` only; one that is absent, or lacks that ground truth, is a ``ValueError``)."""
    _check_ground_truth(ground_truth)
    present = loghub.systems(root)
    usable = [s for s in present if ground_truth == "original" or loghub.corrected_by_loghub2(root, s)]
    if systems:
        for s in systems:
            if s not in usable:
                why = ("has no Loghub-2.0 corrected set (use --ground-truth original)" if s in present
                       else "is not in the data directory")
                raise ValueError(f"system {s!r} {why}; systems here: {', '.join(usable)}")
        usable = [s for s in usable if s in systems]
    out = []
    for system in usable:
        messages, event_ids, templates = loghub.system_lines(root, system, ground_truth)
        out.append(SystemTruth(system, tuple(messages), tuple(event_ids) if ground_truth == "original" else None,
                               tuple(templates)))
    return out


def score(predicted: Sequence[str | None], truth: SystemTruth) -> dict[str, float]:
    """GA, FGA, PA and FTA of one prediction per line of ``truth`` (``None``: no answer)."""
    found = parsing_metrics(predicted, truth.templates, truth_groups=truth.groups)
    return {key: float(found[key]) for key in METRICS}


def mean(rows: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over the systems of ``rows``."""
    return {key: sum(row[key] for row in rows.values()) / len(rows) for key in METRICS} if rows else {}


def drain_predictions(root: Path) -> dict[str, list[str]]:
    """logpai's Drain predictions (``reference/drain_predictions.tsv``): system -> the predicted
    template of each line, in ``LineId`` order; empty when the file is absent."""
    path = root / "reference" / "drain_predictions.tsv"
    if not path.is_file():
        return {}
    by_system: dict[str, dict[int, str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            by_system.setdefault(row["system"], {})[int(row["LineId"])] = row["predicted_template"]
    out = {}
    for system, lines in by_system.items():
        if sorted(lines) != list(range(1, len(lines) + 1)):
            raise DataError(path, f"expected the LineIds 1..{len(lines)} of {system}, once each")
        out[system] = [lines[i] for i in range(1, len(lines) + 1)]
    return out


def fit_samples(truth: SystemTruth) -> list[Sample]:
    """What an agent is fitted on for one system: its lines as log-parsing samples without labels."""
    return [Sample(task=LogParsing.name, domain=truth.system, logs=message, reference="",
                   meta={"source": loghub.NAME, "system": truth.system, "line_id": i})
            for i, message in enumerate(truth.messages, start=1)]


def predict(agent: Agent, truth: SystemTruth, batch_size: int = DEFAULT_BATCH_SIZE) -> list[str | None]:
    """The agent's template for every line of ``truth``: fitted on the system's raw lines (when
    it has ``fit``), each distinct message asked once through the environment's observation and
    read by the task's format rule (``None``: no well-formed answer)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size expects a positive int, got {batch_size!r}")
    if hasattr(agent, "fit"):
        fitted = agent.fit(fit_samples(truth))
        agent = fitted if fitted is not None else agent
    task = get_task(LogParsing.name, agent.reasoning, RLOG)
    first_line: dict[str, int] = {}
    for i, message in enumerate(truth.messages, start=1):
        first_line.setdefault(message, i)
    distinct = list(first_line)
    counts: dict[str, int] = {}
    for message in truth.messages:
        counts[message] = counts.get(message, 0) + 1
    answer_of: dict[str, str | None] = {}
    for start in range(0, len(distinct), batch_size):
        batch = distinct[start:start + batch_size]
        observations = []
        for index, message in enumerate(batch, start=start):
            sample = Sample(task=LogParsing.name, domain=truth.system, logs=message, reference="",
                            meta={"source": loghub.NAME, "system": truth.system,
                                  "id": f"{loghub.NAME}/{truth.system}/{first_line[message]}",
                                  "line_id": first_line[message], "occurrences": counts[message]})
            info = reset_info(task, sample, loghub.NAME, SPLIT, index)
            observations.append(Observation.from_reset(prompt_text(info["messages"]), info))
        answers = agent.act(observations)
        if len(answers) != len(batch):
            raise ValueError(f"agent {agent.name!r} answered {len(answers)} of {len(batch)} observations")
        for message, answer in zip(batch, answers):
            if not isinstance(answer, str):
                raise TypeError(f"agent {agent.name!r} answered {type(answer).__name__}, expected str")
            answer_of[message] = task.parse(answer).answer
    return [answer_of[message] for message in truth.messages]


def parse_bench(agents: Sequence[Any], data_dir: os.PathLike | str | None = None, ground_truth: str = "original",
                systems: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                names: Sequence[str] | None = None,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score ``agents`` (agent objects or functions) on every line of every LogHub system.

    Returns ``{"ground_truth", "truth", "fitting", "systems", "agents": {name: {"systems":
    {system: {GA, FGA, PA, FTA}}, "mean": {...}}}, "drain": {...}}``; ``names`` overrides the
    agents' names as keys (they must be distinct); ``drain`` is logpai's Drain predictions
    scored the same way over the same systems (absent without ``reference/``).
    """
    _check_ground_truth(ground_truth)
    root = resolve_data_dir(data_dir)
    resolved = [as_agent(agent) for agent in agents]
    if not resolved:
        raise ValueError("parse-bench expects at least one agent (--agents NAME ...)")
    keys = list(names) if names is not None else [agent.name for agent in resolved]
    if len(set(keys)) != len(keys):
        raise ValueError(f"parse-bench expects distinct agents, got {', '.join(keys)}")
    truths = system_truths(root, ground_truth, systems)
    result: dict[str, Any] = {
        "ground_truth": ground_truth, "truth": GROUND_TRUTH_HELP[ground_truth], "fitting": FITTING,
        "systems": [t.system for t in truths], "agents": {},
    }
    for key, agent in zip(keys, resolved):
        rows = {}
        for truth in truths:
            if progress is not None:
                progress(f"{key}: {truth.system}")
            rows[truth.system] = score(predict(agent, truth, batch_size), truth)
        result["agents"][key] = {"systems": rows, "mean": mean(rows)}
    drain = drain_predictions(root)
    if drain and all(t.system in drain for t in truths):
        rows = {t.system: score(drain[t.system], t) for t in truths}
        result["drain"] = {"systems": rows, "mean": mean(rows)}
    return result


def markdown(result: Mapping[str, Any]) -> str:
    """The result as a Markdown table: one row per agent and metric, one column per system and
    the mean, logpai's Drain beside each metric."""
    systems = list(result["systems"])
    rows = [("| parser | metric | " + " | ".join(systems) + " | mean |"),
            "|---|---|" + "---:|" * (len(systems) + 1)]
    named = list(result["agents"].items())
    if "drain" in result:
        named.append((DRAIN, result["drain"]))
    for key in METRICS:
        for name, found in named:
            cells = [f"{found['systems'][s][key]:.3f}" for s in systems] + [f"**{found['mean'][key]:.3f}**"]
            rows.append(f"| {name} | {key} | " + " | ".join(cells) + " |")
    note = (f"Ground truth: {result['ground_truth']} ({result['truth']}). Fitting: {result['fitting']}. "
            "Scored per line over every line of each system (logpai's benchmarks).")
    return "\n".join(rows) + "\n\n" + note
