"""The evaluation runner: agents x environments x source x split -> one JSON line per episode.

``run`` walks a finite split completely (each sample once, through its index) or the episodes a
source asks for by default (:attr:`~rlog_env.datasets.SourceSpec.eval_episodes`); plays every
episode through its environment (``reset(options={"index": i})`` -> ``agent.act`` ->
``env.step(answer)`` until ``terminated or truncated``), a batch of episodes at a time, one
environment per live episode; and appends what ``step`` returned to the run directory's
``results.jsonl``. An interrupted run (even by SIGKILL) resumes where it stopped: episodes
already recorded are skipped, a torn last line is repaired, and one process at a time holds a
run (see :mod:`rlog_env.leaderboard.results`). An agent's per-episode failure
(``last_errors_``, e.g. a request that finally failed) is recorded in the episode's ``error``
field and the episode is scored on the answer it got (``""``: the bottom reward), never
dropped. ``rescore`` replays a run's recorded answers through fresh environments.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import gymnasium as gym

from rlog_env._version import __version__
from rlog_env.agents.base import Agent, Observation, as_agent
from rlog_env.agents.baselines import INVESTIGATORS, TRIVIAL_INVESTIGATORS
from rlog_env.agents.registry import apply_agent_options, make_agent
from rlog_env.datasets import SOURCES, load_source
from rlog_env.datasets.incidents import INCIDENT_SOURCES, open_incidents
from rlog_env.envs import ENVIRONMENTS, INVESTIGATION_ENVIRONMENTS, default_env_ids
from rlog_env.leaderboard.results import (CONFIG, RESULTS, EpisodeSet, ResultsWriter, drop_failed, episode_key,
                                            read_frame, read_header, read_results, recorded_episodes)
from rlog_env.leaderboard.tables import format_rate
from rlog_env.tasks import FORMATS

ENDLESS_EPISODES = 100  # episodes per environment from an endless split, when none are asked for
PROGRESS_EVERY_S = 5.0  # a progress line this often when the output is not a terminal
FIT_ENDLESS_EPISODES = 1000  # training episodes an agent may fit on from an endless train split
FIT_INCIDENTS = 300  # training incidents an investigator may fit on
DEFAULT_RUNS_DIR = Path("runs")
DEFAULT_AGENTS = ("heuristic", "constant-normal", "echo", "empty")


def investigates(env_id: str) -> bool:
    """Whether ``env_id`` is an investigation environment (episodes of several turns over an
    incident) rather than a one-step one."""
    return env_id in INVESTIGATION_ENVIRONMENTS


def default_agents(envs: Sequence[str] | None) -> tuple[str, ...]:
    """The agents ``rlog eval`` runs when none are named: the investigation baselines on
    investigation environments, the one-step baselines otherwise."""
    if envs and all(investigates(env_id) for env_id in envs):
        return tuple(INVESTIGATORS)
    return DEFAULT_AGENTS


def with_trivial_baselines(agents: Sequence[str], envs: Sequence[str] | None) -> list[str]:
    """``agents``, and on investigation environments the trivial investigators beside them (a
    leaderboard of investigations is read against answering at once and calling tools at
    random)."""
    agents = list(agents)
    if envs and all(investigates(env_id) for env_id in envs):
        agents += [name for name in TRIVIAL_INVESTIGATORS if name not in agents]
    return agents


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
    reasoning: str | None = None  # the format built-in agents were made with (None: their own)
    agent_options: tuple[tuple[str, Any], ...] = ()  # set on every agent that has them
    protocol: str | None = None  # the source's protocol (None: its default), e.g. loghub's "unseen"

    def __post_init__(self) -> None:
        known = {**ENVIRONMENTS, **INVESTIGATION_ENVIRONMENTS}
        unknown = [e for e in self.envs if e not in known]
        if unknown:
            raise ValueError(f"envs expects ids among {', '.join(known)}, got {unknown}")
        if self.reasoning is not None and self.reasoning not in FORMATS:
            raise ValueError(f"reasoning expects one of {', '.join(FORMATS)} or None, got {self.reasoning!r}")
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
        if self.protocol is not None:
            check_protocol(self.source, self.protocol)


def check_protocol(source: str, protocol: str) -> None:
    """Raise a ``ValueError`` unless ``source`` takes the option ``protocol`` with this value (the
    source's own check names its values); the message names the sources that take one."""
    spec = SOURCES[source]
    if "protocol" not in spec.option_names:
        having = [name for name, other in SOURCES.items() if "protocol" in other.option_names]
        itself = " (it reports seen and unseen rows by itself)" if spec.marks_unseen else ""
        raise ValueError(f"protocol applies to source(s) {', '.join(having) or 'none registered'}; source "
                         f"{source!r} has none{itself}: evaluate one of those, or leave protocol unset")
    spec.prepare_options({"protocol": protocol})


@dataclass
class Plan:
    """The episodes of one environment in a run: ``indices`` is a ``range`` (never a list of
    every index: a plan of any length holds three integers)."""

    env_id: str
    task: str
    source: Any
    indices: Sequence[int] = range(0)


def _source_options(source: str, domains, difficulty, incidents: bool = False,
                    protocol: str | None = None) -> dict[str, Any]:
    """The keyword arguments of a run's sources (its incident source's, with ``incidents``):
    its domains, and its difficulty where the source takes one (it is ignored elsewhere, as a
    run over several sources needs); the one-step source's ``protocol`` when one is set."""
    options: dict[str, Any] = {}
    if domains:
        options["domains"] = list(domains)
    spec = INCIDENT_SOURCES.get(source) if incidents else SOURCES.get(source)
    if difficulty and spec is not None and "difficulty" in [o.name for o in spec.options]:
        options["difficulty"] = difficulty
    if protocol is not None and not incidents:
        options["protocol"] = protocol
    return options


def plan(config: EvalConfig, data_dir=None) -> list[Plan]:
    """The environments a run covers (those the source serves) and their sample indices."""
    spec = SOURCES[config.source]
    options = _source_options(config.source, config.domains, config.difficulty, protocol=config.protocol)
    plans = []
    for env_id in config.envs:
        if investigates(env_id):
            if config.source in INCIDENT_SOURCES:
                incidents = open_incidents(config.source, config.split, data_dir=data_dir, **_source_options(
                    config.source, config.domains, config.difficulty, incidents=True))
                count = min(config.episodes or ENDLESS_EPISODES, len(incidents))
                plans.append(Plan(env_id, INVESTIGATION_ENVIRONMENTS[env_id].task_name, incidents, range(count)))
            continue
        task = ENVIRONMENTS[env_id].task_name
        if not spec.serves(task):
            continue
        source = load_source(config.source, task, split=config.split, data_dir=data_dir, **options)
        if source.finite:
            count = config.episodes or spec.eval_episodes or len(source)
            count = min(count, len(source))
        else:
            count = config.episodes or spec.eval_episodes or ENDLESS_EPISODES
        plans.append(Plan(env_id, task, source, range(count)))
    if not plans:
        raise ValueError(f"source {config.source!r} serves none of {list(config.envs)}")
    return plans


def samples_hash(plans: Sequence[Plan]) -> str:
    """A hash of every evaluation sample (environment, index, logs, reference)."""
    digest = hashlib.sha256()
    for p in plans:
        if investigates(p.env_id):  # incidents are built from their seed: the set's identity names them
            digest.update(json.dumps([p.env_id, p.indices.start, p.indices.stop, p.source.identity]).encode())
            continue
        for i in p.indices:
            sample = p.source[i]
            digest.update(json.dumps([p.env_id, i, sample.logs, sample.reference]).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _training_samples(config: EvalConfig, plans: Sequence[Plan], data_dir) -> list:
    """What agents may fit on: the train split of each task, in the domains the source allows
    (the simulator never gives an unseen family or fault type: the seen/unseen comparison must
    measure generalisation), under the run's protocol (LogHub's ``unseen`` has no train sample
    of a held-out system: of the domains named, those it keeps, else every one it keeps)."""
    spec = SOURCES[config.source]
    domains = spec.fit_domains(config.domains)
    options = _source_options(config.source, None, config.difficulty, protocol=config.protocol)
    samples = []
    for p in plans:
        if investigates(p.env_id):
            continue
        fit_domains = domains
        if domains and config.protocol is not None:
            kept = load_source(config.source, p.task, split="train", data_dir=data_dir, **options).domains
            fit_domains = tuple(d for d in domains if d in kept) or None
        train = load_source(config.source, p.task, split="train", data_dir=data_dir,
                            **({"domains": list(fit_domains)} if fit_domains else {}), **options)
        count = len(train) if train.finite else FIT_ENDLESS_EPISODES
        samples.extend(train[i] for i in range(count))
    return samples


def _training_incidents(config: EvalConfig, data_dir) -> Iterator[Any]:
    """What investigators may fit on: :data:`FIT_INCIDENTS` incidents of the incident source's
    train split, in the domains it allows (never a held-out family or fault type), one at a
    time."""
    spec = INCIDENT_SOURCES[config.source]
    domains = spec.fit_domains(config.domains)
    options = _source_options(config.source, None, config.difficulty, incidents=True)
    incidents = open_incidents(config.source, "train", domains, data_dir=data_dir, **options)
    return (incidents[i] for i in range(min(FIT_INCIDENTS, len(incidents))))


def _resolve_agents(agents: Iterable[Any], reasoning: str | None = None,
                    agent_options: Mapping[str, Any] | None = None) -> list[Agent]:
    """Agent objects for names, agents and functions; ``reasoning`` makes the built-in named
    agents write that format; ``agent_options`` are set on every agent that has them."""
    resolved = []
    for agent in agents:
        if isinstance(agent, str):
            # A user's python: agent keeps its own format; the built-in ones take the option.
            options = {} if reasoning is None or agent.startswith("python:") else {"reasoning": reasoning}
            resolved.append(make_agent(agent, **options))
        else:
            resolved.append(as_agent(agent))
    if agent_options:
        apply_agent_options(resolved, agent_options)
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
    reasoning: str | None = None,
    agent_options: Mapping[str, Any] | None = None,
    retry_failed: bool = True,
    protocol: str | None = None,
) -> Path:
    """Evaluate ``agents``, append every episode to ``results.jsonl`` of the run directory, and
    return the directory.

    Agents are names (see :func:`rlog_env.agents.registry.make_agent`), agent objects, or
    functions ``prompt -> answer``; ``reasoning`` makes the named ones write that format (each
    answer is scored under its agent's format); ``agent_options`` (``{"max_concurrency": 1}``)
    are set on every agent that has them (an option none has is an error that suggests the
    closest one); ``retry_failed`` (default) plays again, on resuming, the episodes whose agent
    failed (their ``error`` set). ``protocol`` is the source's (``"unseen"``: LogHub's
    leave-systems-out split; agents fit on the seen systems only, records say ``unseen``); the
    domains its split names but the data directory lacks are saved as ``absent_domains`` in
    config.json. ``envs`` defaults to
    :func:`~rlog_env.envs.default_env_ids`. ``run_dir`` defaults to a new ``runs/<UTC time>``;
    an existing run directory with the same configuration is resumed.
    """
    if source not in SOURCES:
        raise ValueError(f"source expects one of {', '.join(SOURCES)}, got {source!r}")
    if reasoning is not None and reasoning not in FORMATS:
        raise ValueError(f"reasoning expects one of {', '.join(FORMATS)} or None, got {reasoning!r}")
    agent_objects = _resolve_agents(agents, reasoning, agent_options)
    if domains is None:
        domains = SOURCES[source].eval_domains  # the simulator: seen and unseen, to compare them
    config = EvalConfig(
        agents=tuple(a.name for a in agent_objects),
        envs=tuple(envs or default_env_ids()), source=source, split=split, episodes=episodes,
        reward=reward, domains=tuple(domains) if domains else None, difficulty=difficulty,
        batch_size=batch_size, fit=fit, reasoning=reasoning,
        agent_options=tuple(sorted((agent_options or {}).items())), protocol=protocol,
    )
    plans = plan(config, data_dir)
    run_path = Path(run_dir) if run_dir is not None else _new_run_dir(DEFAULT_RUNS_DIR)
    run_path.mkdir(parents=True, exist_ok=True)
    if progress:  # first, so a long run can be followed (and resumed) from its directory
        print(f"run directory: {run_path}", flush=True)
    header = {"config": _config_of(config), "version": __version__, "samples_sha256": samples_hash(plans)}
    absent = absent_domains(plans)
    if absent:  # only then, so a run made before the key existed resumes
        header["absent_domains"] = absent
        if progress:
            print(f"absent from the data directory (not evaluated): {', '.join(absent)}", flush=True)
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
    writer = ResultsWriter(run_path)
    try:
        # A resumed run plays its failed episodes (a request that finally failed) again: their
        # records are dropped, under the lock, and the writer reopened on the rewritten file.
        if retry_failed and drop_failed(run_path):
            writer.close()
            writer = ResultsWriter(run_path)
        done = recorded_episodes(run_path)  # runs of indices per cell, not a key per episode
        _run_episodes(config, plans, agent_objects, done, writer, data_dir, fit, progress)
    finally:
        writer.close()
    return run_path


def absent_domains(plans: Sequence[Plan]) -> list[str]:
    """The domains a run's sources name but the data directory lacks (LogHub's held-out systems
    under ``protocol="unseen"``), sorted."""
    return sorted({d for p in plans for d in getattr(p.source, "absent", ())})


def _run_episodes(config: EvalConfig, plans: Sequence[Plan], agent_objects: Sequence[Agent], done: EpisodeSet,
                  writer: ResultsWriter, data_dir, fit: bool, progress: bool) -> None:
    """Ask each agent every episode not in ``done``, score the answers, append the records."""
    if fit:
        training = None
        for agent in agent_objects:
            if not hasattr(agent, "fit"):
                continue
            if getattr(agent, "trains_on", None) == "incidents":  # an investigator
                agent.fit(_training_incidents(config, data_dir))
                continue
            training = training if training is not None else _training_samples(config, plans, data_dir)
            agent.fit(training)

    total = sum(len(p.indices) for p in plans) * len(agent_objects)
    with _Progress(progress, total, len(done)) as bar:
        for agent in agent_objects:
            for p in plans:
                # One environment per live episode of a batch, made once and reset per episode.
                envs: list[gym.Env] = []
                options = _source_options(config.source, config.domains, config.difficulty, investigates(p.env_id),
                                          config.protocol)
                # Drawn lazily, a batch at a time: no list of every index still to do.
                todo = (i for i in p.indices if (agent.name, p.env_id, i) not in done)
                while batch := list(itertools.islice(todo, config.batch_size)):
                    while len(envs) < len(batch):
                        envs.append(_make(p.env_id, config.source, config.split, data_dir, agent.reasoning,
                                          config.reward, options))
                    records = _play_batch(agent, envs, batch)
                    writer.write(records)
                    bar.advance(len(records))
                for env in envs:
                    env.close()
                bar.environment_done(p.env_id, agent.name)


def _make(env_id: str, source: str, split: str, data_dir, reasoning: str, reward: str, options) -> gym.Env:
    """An environment of a run."""
    return gym.make(env_id, source=source, split=split, data_dir=data_dir, reasoning=reasoning, reward=reward,
                    **options)


def _play_batch(agent: Agent, envs: Sequence[gym.Env], batch: Sequence[int]) -> list[dict[str, Any]]:
    """Play the episodes ``batch`` (sample indices), one in each of ``envs``, to their ends:
    ``reset`` -> ``agent.act`` on every live episode -> ``step`` each answer, until each one is
    ``terminated`` or ``truncated``. Returns one record per episode, in ``batch``'s order; an
    episode's record holds its first observation, its last answer and what its last ``step``
    returned."""
    first: list[Observation] = []
    infos: list[dict[str, Any]] = []
    env_s = [0.0] * len(batch)  # time in the environments: resets, tools, scoring
    for k, (env, i) in enumerate(zip(envs, batch)):
        began = time.perf_counter()
        observation, info = env.reset(options={"index": i})
        env_s[k] += time.perf_counter() - began
        first.append(Observation.from_reset(observation, info))
        infos.append(info)
    records: list[dict[str, Any] | None] = [None] * len(batch)
    live = list(range(len(batch)))
    current = list(first)
    latency = [0.0] * len(batch)
    returns = [0.0] * len(batch)
    turns: list[list[dict[str, Any]]] = [[] for _ in batch]
    while live:
        observations = [current[k] for k in live]
        began = time.perf_counter()
        answers = agent.act(observations)
        elapsed = (time.perf_counter() - began) / len(live)
        if len(answers) != len(live):
            raise ValueError(f"agent {agent.name!r} answered {len(answers)} of {len(live)} observations")
        usage = _per_answer(getattr(agent, "last_usage_", None), len(live))
        errors = _per_answer(getattr(agent, "last_errors_", None), len(live))
        # An agent that times each answer (a request of its own) is credited that time, not the
        # batch's share; finish_reason ("length": cut off at max_tokens) is kept with the answer.
        own = _per_answer(getattr(agent, "last_latency_", None), len(live))
        finish = _per_answer(getattr(agent, "last_finish_reasons_", None), len(live))
        still = []
        for n, (k, answer) in enumerate(zip(live, answers)):
            if not isinstance(answer, str):
                raise TypeError(f"agent {agent.name!r} answered {type(answer).__name__}, expected str")
            latency[k] += own[n] if isinstance(own[n], (int, float)) else elapsed
            began = time.perf_counter()
            observation, reward, terminated, truncated, step = envs[k].step(answer)
            env_s[k] += time.perf_counter() - began
            returns[k] += reward
            used = usage[n] if isinstance(usage[n], dict) else None
            if not (terminated or truncated):
                turns[k].append(_turn_record(answer, reward, step, used))
                current[k] = Observation.from_reset(observation, {**infos[k], **step})
                still.append(k)
                continue
            info = infos[k]
            records[k] = {
                "agent": agent.name, "env": envs[k].spec.id, "task": info["task"], "source": info["source"],
                "split": info["split"], "index": info["index"], "id": info["meta"].get("id"),
                "domain": info["domain"], "unseen": step["unseen"], "reasoning": agent.reasoning,
                "observation": first[k].prompt, "answer": answer, "parsed_answer": step["parsed_answer"],
                "reference": step["reference"], "reward": step["reward"], "metrics": _jsonable(step["metrics"]),
                "latency_s": latency[k], "usage": usage[n] if isinstance(usage[n], dict) else None,
                # An agent's failure on this episode (a request that finally failed):
                # the episode is scored as answered ("" scores the bottom), not dropped.
                "error": None if errors[n] is None else str(errors[n]),
            }
            if turns[k]:  # an episode of several steps: every turn, and what they returned in all
                records[k]["turns"] = turns[k] + [_turn_record(answer, reward, step, used)]
                records[k]["return"] = returns[k]
            if isinstance(finish[n], str):
                records[k]["finish_reason"] = finish[n]
            if "category" in step:  # what the episode was about, once it is over (a fault category)
                records[k]["category"] = str(step["category"])
            records[k]["env_s"] = env_s[k]
        live = still
    return records  # type: ignore[return-value]


def _turn_record(completion: str, reward: float, step: dict[str, Any], usage: dict | None = None) -> dict[str, Any]:
    """One turn of a multi-step episode as a record keeps it: the completion, the tool calls the
    environment read from it and what the tools answered, the step's reward, and the tokens the
    agent reports for the turn (``usage``: a model's prompt and completion tokens; no key for an
    agent that reports none)."""
    messages = step.get("messages") or []
    asked = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=len(messages))
    outputs = [m["content"] for m in messages[asked + 1:] if m.get("role") == "tool"]
    turn = {"completion": completion, "tool_calls": step.get("tool_calls") or [], "tool_outputs": outputs,
            "reward": reward}
    if usage:
        turn["usage"] = usage
    return turn


def _replay(env: gym.Env, record: dict[str, Any]) -> dict[str, Any]:
    """Step ``record``'s turns (its one answer, for a one-step episode) through ``env``, just
    reset; what differs from the record (empty when nothing does): the final reward
    (``recomputed``), and for a transcript the first turn whose tool outputs or reward differ."""
    for n, turn in enumerate(record.get("turns", [])[:-1]):
        _, reward, terminated, truncated, step = env.step(turn["completion"])
        now = _turn_record(turn["completion"], reward, step, turn.get("usage"))
        if terminated or truncated or now != turn:
            return {"recomputed": step.get("reward", reward), "turn": n, "recorded_turn": turn, "replayed_turn": now}
    _, _, _, _, step = env.step(record["answer"])
    if step["reward"] != record["reward"] or step["reference"] != record["reference"]:
        return {"recomputed": step["reward"]}
    return {}


def _config_of(config: EvalConfig) -> dict[str, Any]:
    """The run's configuration as config.json holds it; ``reasoning``, ``agent_options`` and
    ``protocol`` only when set, so a run made before the option existed resumes."""
    fields = asdict(config)
    if fields["reasoning"] is None:
        del fields["reasoning"]
    if fields["agent_options"]:
        fields["agent_options"] = dict(fields["agent_options"])
    else:  # only when set, so a run made before the option existed resumes
        del fields["agent_options"]
    if fields["protocol"] is None:  # likewise
        del fields["protocol"]
    return fields


def _per_answer(values, n: int) -> list:
    """An agent's per-answer list (``last_usage_``, ``last_errors_``) padded to ``n`` with None."""
    values = list(values)[:n] if values is not None else []
    return values + [None] * (n - len(values))


def _jsonable(details) -> dict[str, Any]:
    """Step metrics as a record keeps them: scalars as they are, mappings of scalars (an
    investigation's ``elements``) as objects, anything else as its text."""
    def value(v):
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        if isinstance(v, dict):
            return {str(k): value(x) for k, x in v.items()}
        return str(v)

    return {k: value(v) for k, v in details.items()}


class _Progress:
    """The run's progress: a rich bar on a terminal; elsewhere (output to a file or a pipe) a
    plain line every :data:`PROGRESS_EVERY_S` seconds and when an environment is done, so
    ``rlog eval > file`` shows it while it runs; nothing when disabled."""

    def __init__(self, enabled: bool, total: int, completed: int, out=None):
        self.enabled, self.total, self.completed = enabled, total, completed
        self.out = out if out is not None else sys.stdout
        self._progress = None
        self._lines = False

    def __enter__(self) -> "_Progress":
        if not self.enabled:
            return self
        if getattr(self.out, "isatty", lambda: False)():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("episodes", total=self.total, completed=self.completed)
        else:
            self._lines = True
            self._began = self._last = time.monotonic()
            self._start = self.completed
            self._line("started")
        return self

    def advance(self, n: int) -> None:
        self.completed += n
        if self._progress is not None:
            self._progress.advance(self._task, n)
        elif self._lines and time.monotonic() - self._last >= PROGRESS_EVERY_S:
            self._line("running")

    def environment_done(self, env_id: str, agent: str) -> None:
        if self._lines:
            self._line(f"{agent} on {env_id} done")

    def _line(self, what: str) -> None:
        now = time.monotonic()
        self._last = now
        done = self.completed - self._start
        rate = done / (now - self._began) if now > self._began else 0.0
        left = (self.total - self.completed) / rate if rate > 0 else None
        print(f"progress: {self.completed:,}/{self.total:,} episodes ({self.completed / max(1, self.total):.0%}), "
              f"{format_rate(rate)} episodes/s" + (f", about {left:,.0f} s left" if left is not None else "")
              + f" - {what}", file=self.out, flush=True)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def rescore(run_dir: str | Path, data_dir=None) -> list[dict[str, Any]]:
    """Replay every recorded answer (every turn of a recorded transcript) through a fresh
    environment; return the differences.

    Each difference names the episode, the recorded reward and the one ``step`` returns now, and
    for a transcript the first turn whose tool outputs or reward differ: a submitted run whose
    rewards were edited, or scored by another version, shows up here.
    """
    run_path = Path(run_dir)
    config = read_header(run_path)["config"]
    source = config["source"]
    if source not in SOURCES:
        raise ValueError(f"{run_path}: the run's source {source!r} is not registered; "
                         f"registered sources: {', '.join(SOURCES)}")
    envs: dict[tuple[str, str], gym.Env] = {}
    differences = []
    for record in read_results(run_path):
        if "answer" not in record:
            raise ValueError(f"{run_path / RESULTS}: episode {episode_key(record)} has no 'answer' field; "
                             "a run can only be rescored from the answers it recorded")
        key = (record["env"], record["reasoning"])
        if key not in envs:
            options = _source_options(source, config.get("domains"), config.get("difficulty"),
                                      investigates(record["env"]), config.get("protocol"))
            envs[key] = _make(record["env"], source, config["split"], data_dir, record["reasoning"],
                              config["reward"], options)
        env = envs[key]
        env.reset(options={"index": int(record["index"])})
        found = _replay(env, record)
        if found:
            differences.append({"agent": record["agent"], "env": record["env"], "index": record["index"],
                                "recorded": record["reward"], **found})
    for env in envs.values():
        env.close()
    return differences
