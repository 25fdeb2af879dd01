"""The evaluation runner: agents x environments x source x split -> one JSON line per episode.

``evaluate`` walks a finite split completely (each sample once, through its index) or, on the
simulator, a fixed seeded set of episodes (:data:`DEFAULT_SIM_EPISODES` per task of its test
set); asks each agent in batches; scores every answer with the task's own reward (the function
``env.step`` calls); and appends each episode to the run directory's ``results.jsonl``. An
interrupted run (even by SIGKILL) resumes where it stopped: episodes already recorded are
skipped, a torn last line is repaired, and one process at a time holds a run (see
:mod:`rlog_env.leaderboard.results`). An agent's per-episode failure (``last_errors_``, e.g. a
request that finally failed) is recorded in the episode's ``error`` field and the episode is
scored on the answer it got (``""``: the bottom reward), never dropped. It returns the
episodes as a pandas DataFrame.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import gymnasium as gym

import rlog_env
from rlog_env.agents.base import Agent, Observation, as_agent
from rlog_env.agents.registry import make_agent
from rlog_env.datasets import SOURCES, load_source
from rlog_env.leaderboard.results import (CONFIG, RESULTS, EpisodeSet, ResultsWriter, episode_key, read_frame,
                                            read_header, read_results, recorded_episodes)
from rlog_env.tasks import get_task

DEFAULT_SIM_EPISODES = 100  # episodes per task from the simulator's test set, by default
FIT_SIM_EPISODES = 1000  # simulator training episodes an agent may fit on
DEFAULT_RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class EvalConfig:
    """Everything that defines an evaluation run (saved as config.json)."""

    agents: tuple[str, ...]
    envs: tuple[str, ...]
    source: str = "sim"
    split: str = "test"
    episodes: int | None = None
    reward: str = "rlog"
    domains: tuple[str, ...] | None = None
    difficulty: str | None = None
    batch_size: int = 16
    fit: bool = True

    def __post_init__(self) -> None:
        unknown = [e for e in self.envs if e not in rlog_env.ENVIRONMENTS]
        if unknown:
            raise ValueError(f"envs expects ids among {', '.join(rlog_env.ENVIRONMENTS)}, got {unknown}")
        if self.source not in SOURCES:
            raise ValueError(f"source expects one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.episodes is not None and (not isinstance(self.episodes, int) or self.episodes < 1):
            raise ValueError(f"episodes expects a positive int or None (all), got {self.episodes!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size expects a positive int, got {self.batch_size!r}")
        if not self.agents:
            raise ValueError("agents expects at least one agent")
        if len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agents must have distinct names, got {list(self.agents)}")


@dataclass
class Plan:
    """The episodes of one environment in a run: ``indices`` is a ``range`` (never a list of
    every index: a plan of 100,000 episodes holds three integers)."""

    env_id: str
    task: str
    source: Any
    indices: Sequence[int] = range(0)


def _source_options(config: EvalConfig) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if config.domains:
        options["domains"] = list(config.domains)
    if config.difficulty and config.source == "sim":
        options["difficulty"] = config.difficulty
    return options


def plan(config: EvalConfig, data_dir=None) -> list[Plan]:
    """The environments a run covers (those the source serves) and their sample indices."""
    plans = []
    for env_id in config.envs:
        task = rlog_env.ENVIRONMENTS[env_id].task_name
        if task not in SOURCES[config.source].tasks:
            continue
        source = load_source(config.source, task, split=config.split, data_dir=data_dir,
                             **_source_options(config))
        if source.finite:
            count = len(source) if config.episodes is None else min(config.episodes, len(source))
            if config.source == "sim" and config.episodes is None:
                count = min(DEFAULT_SIM_EPISODES, len(source))
        else:
            count = config.episodes or DEFAULT_SIM_EPISODES
        plans.append(Plan(env_id, task, source, range(count)))
    if not plans:
        raise ValueError(f"source {config.source!r} serves none of {list(config.envs)}")
    return plans


def samples_hash(plans: Sequence[Plan]) -> str:
    """A hash of every evaluation sample (environment, index, logs, reference)."""
    digest = hashlib.sha256()
    for p in plans:
        for i in p.indices:
            sample = p.source[i]
            digest.update(json.dumps([p.env_id, i, sample.logs, sample.reference]).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _training_samples(config: EvalConfig, plans: Sequence[Plan], data_dir) -> list:
    """What agents may fit on: the train split of each task, and on the simulator never an
    unseen family or fault type (the seen/unseen comparison must measure generalisation)."""
    options = _source_options(config)
    if config.source == "sim":
        options["domains"] = [d for d in (config.domains or ()) if d != "unseen"] or ["seen"]
    samples = []
    for p in plans:
        train = load_source(config.source, p.task, split="train", data_dir=data_dir, **options)
        count = len(train) if train.finite else FIT_SIM_EPISODES
        samples.extend(train[i] for i in range(count))
    return samples


def _resolve_agents(agents: Iterable[Any]) -> list[Agent]:
    resolved = []
    for agent in agents:
        resolved.append(make_agent(agent) if isinstance(agent, str) else as_agent(agent))
    return resolved


def _new_run_dir(base: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path, n = base / stamp, 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}"
    return path


def evaluate(agents: Sequence[Any], envs: Sequence[str] | None = None, **options: Any):
    """Evaluate ``agents`` and return every episode as a pandas DataFrame (its
    ``attrs["run_dir"]`` names the run directory). The arguments are :func:`run`'s, which does
    the same and returns only the run directory, holding nothing in memory: ``rlog eval``
    streams its leaderboard from ``results.jsonl`` instead.
    """
    run_path = run(agents, envs, **options)
    frame = read_frame(run_path)
    frame.attrs["run_dir"] = str(run_path)
    return frame


def run(
    agents: Sequence[Any],
    envs: Sequence[str] | None = None,
    *,
    source: str = "sim",
    split: str = "test",
    episodes: int | None = None,
    data_dir=None,
    domains: Sequence[str] | None = None,
    difficulty: str | None = None,
    reward: str = "rlog",
    run_dir: str | Path | None = None,
    batch_size: int = 16,
    fit: bool = True,
    progress: bool = False,
) -> Path:
    """Evaluate ``agents``, append every episode to ``results.jsonl`` of the run directory, and
    return the directory.

    Agents are names (see :func:`rlog_env.agents.registry.make_agent`), agent objects, or
    functions ``prompt -> answer``. ``run_dir`` defaults to a new ``runs/<UTC time>``; an
    existing run directory with the same configuration is resumed.
    """
    agent_objects = _resolve_agents(agents)
    if source == "sim" and domains is None:
        domains = ("seen", "unseen")  # both, so the leaderboard can compare them
    config = EvalConfig(
        agents=tuple(a.name for a in agent_objects),
        envs=tuple(envs or rlog_env.ENV_IDS), source=source, split=split, episodes=episodes,
        reward=reward, domains=tuple(domains) if domains else None, difficulty=difficulty,
        batch_size=batch_size, fit=fit,
    )
    plans = plan(config, data_dir)
    run_path = Path(run_dir) if run_dir is not None else _new_run_dir(DEFAULT_RUNS_DIR)
    run_path.mkdir(parents=True, exist_ok=True)
    header = {"config": asdict(config), "version": rlog_env.__version__, "samples_sha256": samples_hash(plans)}
    header = json.loads(json.dumps(header))  # as it reads back from config.json (lists, not tuples)
    config_path = run_path / CONFIG
    if config_path.exists():
        if read_header(run_path) != header:
            raise ValueError(f"{run_path} holds a run with another configuration or other samples; "
                             "pass a new run_dir, or the same arguments to resume it")
    else:
        # Written whole and renamed into place: a kill leaves no half config.json.
        tmp = config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(header, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(config_path)

    # The writer takes the run's lock (and repairs a torn last line) before anything reads
    # what is done: a second process on the same run stops here instead of redoing episodes.
    with ResultsWriter(run_path) as writer:
        done = recorded_episodes(run_path)  # runs of indices per cell, not a key per episode
        _run_episodes(config, plans, agent_objects, done, writer, data_dir, fit, progress)
    return run_path


def _run_episodes(config: EvalConfig, plans: Sequence[Plan], agent_objects: Sequence[Agent], done: EpisodeSet,
                  writer: ResultsWriter, data_dir, fit: bool, progress: bool) -> None:
    """Ask each agent every episode not in ``done``, score the answers, append the records."""
    if fit:
        training = None
        for agent in agent_objects:
            if hasattr(agent, "fit"):
                training = training if training is not None else _training_samples(config, plans, data_dir)
                agent.fit(training)

    total = sum(len(p.indices) for p in plans) * len(agent_objects)
    with _Progress(progress, total, len(done)) as bar:
        for agent in agent_objects:
            for p in plans:
                env = gym.make(p.env_id, source=config.source, split=config.split, data_dir=data_dir,
                               reasoning=agent.reasoning, reward=config.reward, **_source_options(config))
                task = env.unwrapped.task
                # Drawn lazily, a batch at a time: no list of every index still to do.
                todo = (i for i in p.indices if (agent.name, p.env_id, i) not in done)
                while batch := list(itertools.islice(todo, config.batch_size)):
                    observations = [Observation.from_reset(*env.reset(options={"index": i})) for i in batch]
                    began = time.perf_counter()
                    answers = agent.act(observations)
                    latency = (time.perf_counter() - began) / len(batch)
                    if len(answers) != len(batch):
                        raise ValueError(f"agent {agent.name!r} answered {len(answers)} of {len(batch)} observations")
                    usage = _per_answer(getattr(agent, "last_usage_", None), len(batch))
                    errors = _per_answer(getattr(agent, "last_errors_", None), len(batch))
                    records = []
                    for k, (i, observation, answer) in enumerate(zip(batch, observations, answers)):
                        if not isinstance(answer, str):
                            raise TypeError(f"agent {agent.name!r} answered {type(answer).__name__}, expected str")
                        sample = p.source[i]
                        scored = task.reward_for(answer, sample)
                        parsed = task.parse(answer)
                        records.append({
                            "agent": agent.name, "env": p.env_id, "task": p.task, "source": config.source,
                            "split": config.split, "index": i, "id": sample.meta.get("id"),
                            "domain": sample.domain, "unseen": bool(sample.facts.get("unseen", False)),
                            "reasoning": agent.reasoning, "observation": observation.prompt,
                            "answer": answer, "parsed_answer": parsed.answer, "reference": sample.reference,
                            "reward": scored.as_dict(), "metrics": _jsonable(scored.details),
                            "latency_s": latency, "usage": usage[k] if isinstance(usage[k], dict) else None,
                            # An agent's failure on this episode (a request that finally failed):
                            # the episode is scored as answered ("" scores the bottom), not dropped.
                            "error": None if errors[k] is None else str(errors[k]),
                        })
                    writer.write(records)
                    bar.advance(len(records))
                env.close()


def _per_answer(values, n: int) -> list:
    """An agent's per-answer list (``last_usage_``, ``last_errors_``) padded to ``n`` with None."""
    values = list(values)[:n] if values is not None else []
    return values + [None] * (n - len(values))


def _jsonable(details) -> dict[str, Any]:
    return {k: (v if isinstance(v, (bool, int, float, str)) or v is None else str(v)) for k, v in details.items()}


class _Progress:
    """A rich progress bar, or nothing."""

    def __init__(self, enabled: bool, total: int, completed: int):
        self.enabled, self.total, self.completed = enabled, total, completed
        self._progress = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("episodes", total=self.total, completed=self.completed)
        return self

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def rescore(run_dir: str | Path, data_dir=None) -> list[dict[str, Any]]:
    """Recompute every recorded reward from the recorded answers; return the differences.

    Each difference names the episode, the recorded reward and the recomputed one: a
    submitted run whose rewards were edited, or scored by another version, shows up here.
    """
    run_path = Path(run_dir)
    config = read_header(run_path)["config"]
    options = {}
    if config.get("domains"):
        options["domains"] = config["domains"]
    if config.get("difficulty") and config["source"] == "sim":
        options["difficulty"] = config["difficulty"]
    sources: dict[str, Any] = {}
    differences = []
    for record in read_results(run_path):
        if "answer" not in record:
            raise ValueError(f"{run_path / RESULTS}: episode {episode_key(record)} has no 'answer' field; "
                             "a run can only be rescored from the answers it recorded")
        task_name = record["task"]
        if task_name not in sources:
            sources[task_name] = load_source(config["source"], task_name, split=config["split"],
                                             data_dir=data_dir, **options)
        sample = sources[task_name][int(record["index"])]
        task = get_task(task_name, record["reasoning"], config["reward"])
        again = task.reward_for(record["answer"], sample).as_dict()
        if again != record["reward"] or sample.reference != record["reference"]:
            differences.append({"agent": record["agent"], "env": record["env"], "index": record["index"],
                                "recorded": record["reward"], "recomputed": again})
    return differences
