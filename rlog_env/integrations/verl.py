"""VeRL for the one-step tasks: its reward function and its parquet data layout.

VeRL (``verl`` 0.9) trains on a parquet prompt set and scores each rollout with a reward
function it loads from a file (``reward.custom_reward_function.path`` and ``.name``). This
module is both ends, and imports neither verl nor torch:

- :func:`rows` / :func:`write_parquet` write a prompt set in VeRL's layout, one row per sample:
  ``data_source`` (the task's environment id, e.g. ``"RLog/LogParsing-v0"``), ``prompt`` (the
  environment's own chat messages), ``ability`` (:data:`ABILITY`), ``reward_model``
  (``{"style": "rule", "ground_truth": <the reference answer>}``) and ``extra_info`` (what the
  reward needs to rebuild the sample: ``task``, ``reasoning`` (the output format), ``reward``
  (the scheme), ``logs``, ``facts`` (the sample's key facts as a JSON text, ``"null"`` when it
  has none), ``index``, ``id``, ``domain``). ``rlog data export DIR --kind verl`` writes it.
- :func:`compute_score` is the reward function: it rebuilds the sample from the row and calls
  the task's own scoring (:meth:`~rlog_env.tasks.Task.reward_for`), so its ``score`` is the
  environment's reward for the same answer, to the bit, for every task, format and scheme.

Point VeRL at this module::

    python -m verl.trainer.main_ppo ... \\
        reward.custom_reward_function.path=pkg://rlog_env.integrations.verl \\
        reward.custom_reward_function.name=compute_score

(the file's path works as well: VeRL then loads it as a module of its own, which is why only
absolute imports are used here). ``examples/verl/`` holds the R-Log GRPO recipe.

The investigation environments (several turns, tools) train through VeRL's agent loop instead:
:func:`investigation_rows` writes their rows (``agent_name`` picks
:class:`rlog_env.integrations.verl_multiturn.InvestigationAgentLoop`, which scores each rollout
with the environment's return; :func:`compute_score` is not called for them and refuses them).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from rlog_env.datasets.reasoning import Trajectory
from rlog_env.tasks import RLOG, SCHEMES, TASKS, THINK_FIRST, Sample, Task, get_task

ABILITY = "log-analysis"
STYLE = "rule"  # reward_model.style: a rule-based reward, VeRL's name for a reward function
# What compute_score reads from extra_info (the rest of a row is VeRL's or bookkeeping).
SCORED_KEYS = ("task", "reasoning", "reward", "logs", "facts")
VERL_EXTRA_HINT = "pip install 'rlog_env[verl]'"


# -- data sources -----------------------------------------------------------------------------
def data_source(task: str) -> str:
    """The ``data_source`` of ``task``'s rows: its environment id (``"RLog/LogParsing-v0"``).

    VeRL reports validation metrics per data source, so each task is its own.
    """
    cls = TASKS.get(task)
    if cls is None:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {task!r}")
    return cls.env_id


def data_sources() -> tuple[str, ...]:
    """The data sources :func:`compute_score` knows: the registered tasks' environment ids."""
    return tuple(cls.env_id for cls in TASKS.values())


# -- the prompt set ---------------------------------------------------------------------------
def row(item: Trajectory | Sample, index: int, reasoning: str = THINK_FIRST, reward: str = RLOG) -> dict[str, Any]:
    """One VeRL row for ``item`` (a sample, or a reasoning trajectory: its sample).

    ``reasoning`` is the output format the prompt asks for and the reward checks; ``reward`` the
    scheme the reward uses. ``index`` is the row's position (VeRL's ``extra_info.index``).
    ``ValueError`` when the scheme cannot score the sample (``grounded`` needs key facts).
    """
    if isinstance(item, Trajectory):
        sample, sample_id = item.sample(), item.id
    elif isinstance(item, Sample):
        sample, sample_id = item, str(item.meta.get("id", ""))
    else:
        raise TypeError(f"row expects a Sample or a Trajectory, got {type(item).__name__}")
    task = _task(sample.task, reasoning, reward)
    key_facts = sample.facts.get("key_facts")
    # A scheme that cannot score this sample refuses it now, not at the first rollout: grounded
    # a free-text sample without key facts (a source other than the simulator).
    task.scheme.judge_for(task, sample.reference, sample.logs, key_facts)
    return {
        "data_source": task.env_id,
        "prompt": task.messages(sample),
        "ability": ABILITY,
        "reward_model": {"style": STYLE, "ground_truth": sample.reference},
        "extra_info": {
            "task": sample.task, "reasoning": reasoning, "reward": reward, "logs": sample.logs,
            # JSON text: parquet would make one struct type of every row's facts (or refuse them).
            "facts": json.dumps(None if key_facts is None else [list(f) for f in key_facts], ensure_ascii=False),
            "index": int(index), "id": sample_id, "domain": sample.domain,
        },
    }


def rows(items: Iterable[Trajectory | Sample], reasoning: str = THINK_FIRST, reward: str = RLOG) -> list[dict[str, Any]]:
    """VeRL rows for ``items``, indexed in order (:func:`row`)."""
    return [row(item, index, reasoning, reward) for index, item in enumerate(items)]


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError(f"writing VeRL's parquet needs pyarrow: {VERL_EXTRA_HINT} (or pip install pyarrow)") from error
    return pyarrow


def parquet_schema():
    """The pyarrow schema of the rows: every value a string but ``extra_info.index`` (int64)."""
    pa = _pyarrow()
    string = pa.string()
    message = pa.struct([("role", string), ("content", string)])
    extra = pa.struct([("task", string), ("reasoning", string), ("reward", string), ("logs", string),
                       ("facts", string), ("index", pa.int64()), ("id", string), ("domain", string)])
    return pa.schema([("data_source", string), ("prompt", pa.list_(message)), ("ability", string),
                      ("reward_model", pa.struct([("style", string), ("ground_truth", string)])),
                      ("extra_info", extra)])


def write_parquet(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write VeRL rows (:func:`rows`, or :func:`investigation_rows`: not both in one file) to the
    parquet file ``path``, atomically (a temporary file renamed into place), and return its path.
    ``ImportError`` naming the extra without pyarrow."""
    pa = _pyarrow()
    rows = list(rows)
    if not rows:
        raise ValueError("write_parquet expects at least one row, got none; is the reasoning data set empty?")
    agents = {"agent_name" in r for r in rows}
    if len(agents) > 1:
        raise ValueError("write_parquet expects one-step rows (rows) or investigation rows (investigation_rows), "
                         "got both; write them to two files (VeRL scores the two kinds differently)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=investigation_schema() if agents == {True} else parquet_schema())
    tmp = path.with_name(path.name + ".tmp")
    try:
        pa.parquet.write_table(table, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# -- investigation rows (VeRL's agent loop) -----------------------------------------------------------
AGENT_NAME = "rlog_investigation"  # the name rlog_env.integrations.verl_multiturn registers its loop under


def investigation_rows(env_id: str, episodes: int, first_index: int = 0, **env_kwargs: Any) -> list[dict[str, Any]]:
    """``episodes`` VeRL rows of the investigation environment ``env_id`` (incidents
    ``first_index`` on) made with ``env_kwargs`` (``gymnasium.make``'s: ``difficulty``, ``reward``,
    ``max_steps``, ...): ``data_source`` (``env_id``), ``prompt`` (the environment's system message
    and brief), ``agent_name`` (:data:`AGENT_NAME`), ``ability``, ``reward_model`` (style ``"agent_loop"``,
    no ground truth: the agent loop scores) and ``extra_info``: ``index``, ``incident_id``, and ``tools_kwargs`` —
    for each tool ``{"create_kwargs": {"env_id", "index", "env_kwargs"}}`` (the arguments as JSON
    text), the one place a row names its episode. The episodes are TRL's
    (:func:`rlog_env.integrations.trl.investigation_rows`), so both engines train on the same prompts."""
    from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
    from rlog_env.integrations.trl import investigation_rows as trl_rows

    out = []
    for item in trl_rows(env_id, episodes, first_index, **env_kwargs):
        create = {"env_id": env_id, "index": item["index"], "env_kwargs": item["env_kwargs"]}
        out.append({
            "data_source": env_id, "prompt": item["prompt"], "agent_name": AGENT_NAME, "ability": ABILITY,
            "reward_model": {"style": "agent_loop", "ground_truth": ""},
            "extra_info": {"index": item["index"], "incident_id": item["incident_id"],
                           "tools_kwargs": {s["function"]["name"]: {"create_kwargs": dict(create)} for s in TOOL_SCHEMAS}},
        })
    return out


def investigation_schema():
    """The pyarrow schema of :func:`investigation_rows`."""
    from rlog_env.datasets.sim.tools import TOOL_SCHEMAS

    pa = _pyarrow()
    string = pa.string()
    create = pa.struct([("create_kwargs", pa.struct([("env_id", string), ("index", pa.int64()), ("env_kwargs", string)]))])
    tools = pa.struct([(s["function"]["name"], create) for s in TOOL_SCHEMAS])
    return pa.schema([("data_source", string), ("prompt", pa.list_(pa.struct([("role", string), ("content", string)]))),
                      ("agent_name", string), ("ability", string),
                      ("reward_model", pa.struct([("style", string), ("ground_truth", string)])),
                      ("extra_info", pa.struct([("index", pa.int64()), ("incident_id", string), ("tools_kwargs", tools)]))])


# -- the reward -------------------------------------------------------------------------------
_TASKS: dict[tuple, Task] = {}
_METRICS = json.JSONEncoder(ensure_ascii=False).encode  # made once: json.dumps(..., **options) makes one a call


def _task(name: str, reasoning: str, reward: str) -> Task:
    """The task ``name`` under a format and a scheme, one instance each (as an environment holds
    one); keyed by the registered task class and scheme, so one registered again is new here too."""
    key = (TASKS.get(name), reasoning, SCHEMES.get(reward) if isinstance(reward, str) else reward)
    task = _TASKS.get(key)
    if task is None:
        task = _TASKS[key] = get_task(name, reasoning, reward)
    return task


@lru_cache(maxsize=4096)
def _facts(text: str) -> tuple[tuple[str, ...], ...] | None:
    """The key facts of ``extra_info.facts`` (a GRPO group's rows share one text: decoded once)."""
    try:
        facts = json.loads(text)
    except (TypeError, ValueError) as error:
        raise ValueError(f"extra_info['facts'] expects a JSON list of key facts (or null), got {text!r:.80}") from error
    if facts is None:
        return None
    if not isinstance(facts, list) or not all(isinstance(f, list) for f in facts):
        raise ValueError(f"extra_info['facts'] expects a JSON list of key facts, each a list of phrasings, "
                         f"got {text!r:.80}")
    return tuple(tuple(f) for f in facts)


def _missing_keys(extra_info: Any) -> ValueError:
    missing = [k for k in SCORED_KEYS if not isinstance(extra_info, Mapping) or k not in extra_info]
    return ValueError(f"compute_score expects extra_info with {', '.join(SCORED_KEYS)}, missing {missing}; "
                      "write the prompt set with `rlog data export DIR --kind verl` "
                      "(rlog_env.integrations.verl.write_parquet)")


def _check_source(data_source: Any, name: Any) -> None:
    cls = TASKS.get(name) if isinstance(name, str) else None
    if cls is not None and cls.env_id == data_source:
        return
    known = data_sources()
    if data_source not in known:
        raise ValueError(f"data_source expects one of {', '.join(known)}, got {data_source!r}")
    raise ValueError(f"data_source {data_source!r} expects extra_info['task'] to be its task, got {name!r}; "
                     "a row's data_source is its task's environment id (rlog_env.integrations.verl.row)")


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """VeRL's reward function: the environment's reward for ``solution_str`` on the row's sample.

    Arguments are VeRL's: ``data_source`` (the task's environment id), ``solution_str`` (the
    decoded response), ``ground_truth`` (``reward_model.ground_truth``: the reference answer) and
    ``extra_info`` (the row's, as :func:`row` writes it; VeRL adds keys of its own, which are
    ignored, as are other keyword arguments). The sample is rebuilt from the row (reference,
    logs, key facts) and scored as the environment's ``step`` scores it: the task's own
    :meth:`~rlog_env.tasks.Task.score` under the row's format and scheme.

    Returns ``{"score", "format", "answer", "well_formed", "answer_empty", "metrics"}``: the
    total reward, its two parts, the format verdicts, and the task's cheap metrics as one JSON
    object (the environment's ``info["metrics"]`` less the two verdicts). The keys are the same
    for every task and outcome: VeRL takes a batch's extra reward keys from its first row and
    reads them on every row, and a batch mixes tasks. ``ValueError`` for a row this module did
    not write (an unknown data source, missing ``extra_info`` keys), ``TypeError`` for
    arguments that are not text.
    """
    if not isinstance(solution_str, str):
        raise TypeError(f"compute_score expects solution_str to be the decoded response (str), "
                        f"got {type(solution_str).__name__}")
    if not isinstance(ground_truth, str):
        raise TypeError(f"compute_score expects ground_truth to be the reference answer (str), "
                        f"got {type(ground_truth).__name__}; export rows with rlog_env.integrations.verl.rows")
    try:
        name, logs, facts = extra_info["task"], extra_info["logs"], extra_info["facts"]
        task = _task(name, extra_info["reasoning"], extra_info["reward"])
    except (KeyError, TypeError):
        # Looked at only when the row is not a one-step row: the common path stays a dict lookup.
        if isinstance(extra_info, Mapping) and "tools_kwargs" in extra_info and "task" not in extra_info:
            raise ValueError(f"compute_score scores one-step rows; {data_source!r} is an investigation row, which "
                             f"VeRL's agent loop {AGENT_NAME!r} scores (rlog_env.integrations.verl_multiturn): keep "
                             "agent_name in the rows and point actor_rollout_ref.rollout.agent.agent_loop_config_path "
                             "at examples/verl/rlog_agent_loops.yaml") from None
        raise _missing_keys(extra_info) from None
    if task.env_id != data_source or task.name != name:
        _check_source(data_source, name)
    reward = task.score(solution_str, ground_truth, logs or "", _facts(facts))
    metrics = dict(reward.details)
    well_formed, answer_empty = metrics.pop("well_formed"), metrics.pop("answer_empty")
    return {"score": reward.total, "format": reward.format, "answer": reward.answer,
            "well_formed": well_formed, "answer_empty": answer_empty, "metrics": _METRICS(metrics)}


__all__ = ["ABILITY", "AGENT_NAME", "SCORED_KEYS", "compute_score", "data_source", "data_sources",
           "investigation_rows", "investigation_schema", "parquet_schema", "row", "rows", "write_parquet"]
