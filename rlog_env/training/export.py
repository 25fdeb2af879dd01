"""Exports to Hugging Face ``datasets`` in the formats TRL's trainers read.

Three kinds, each a conversational *prompt–completion* or *prompt-only* data set (TRL applies
the model's chat template):

- ``sft-answer`` — the SFT baseline X→Y: the prompt asks for the plain answer (format
  ``none``) and the completion is the reference answer alone (log–label pairs).
- ``sft-reasoning`` — the R-Log cold start X→(R,Y): the prompt asks for the chosen format
  (``think-first``, or ``answer-first`` for R-Log-fast) and the completion is the reasoning
  trajectory in that format.
- ``grpo`` — a prompt set for ``GRPOTrainer``: the prompt, plus the columns the reward
  functions read (``task``, ``reference``, ``logs``, ``facts``; see
  :mod:`rlog_env.tasks.trl_rewards`).

The prompt of every kind is the environment's own (:meth:`Task.messages`), so a model trained
here sees at evaluation exactly what it saw in training. Records are plain JSON; the functions
ending in ``_dataset`` wrap them into a :class:`datasets.Dataset` (``pip install
'rlog_env[train]'``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from rlog_env.datasets.reasoning import Trajectory
from rlog_env.tasks import NO_TAGS, THINK_FIRST, Sample, get_task

KINDS = ("sft-answer", "sft-reasoning", "grpo")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind expects one of {', '.join(KINDS)}, got {kind!r}; 'sft-answer' is the X→Y "
                         "baseline, 'sft-reasoning' the cold start X→(R,Y), 'grpo' a prompt set")
    return kind


def _sample(t: Trajectory | Sample) -> Sample:
    if isinstance(t, Sample):
        return t
    return t.sample()


def prompt_messages(sample: Sample, reasoning: str) -> list[dict[str, str]]:
    """The environment's chat messages for ``sample`` under the output format ``reasoning``."""
    return get_task(sample.task, reasoning).messages(sample)


def _key_facts(sample: Sample) -> list[list[str]]:
    return [list(f) for f in sample.facts.get("key_facts", ()) or ()]


def records(items: Iterable[Trajectory | Sample], kind: str, reasoning: str = THINK_FIRST) -> list[dict[str, Any]]:
    """JSON records of ``kind`` from trajectories (or, for ``grpo``, samples too).

    ``reasoning`` is the output format for ``sft-reasoning`` and ``grpo`` (``sft-answer`` is
    always the plain answer).
    """
    _check_kind(kind)
    out = []
    for item in items:
        sample = _sample(item)
        base = {"task": sample.task, "domain": sample.domain,
                "id": item.id if isinstance(item, Trajectory) else str(sample.meta.get("id", ""))}
        if kind == "grpo":
            out.append({"prompt": prompt_messages(sample, reasoning), **base, "reference": sample.reference,
                        "logs": sample.logs, "facts": _key_facts(sample)})
            continue
        if not isinstance(item, Trajectory):
            raise TypeError(f"kind {kind!r} needs trajectories (rlog_env.datasets.reasoning), got {type(item).__name__}")
        fmt = NO_TAGS if kind == "sft-answer" else reasoning
        # X→Y learns the log–label pairs: the reference, whoever wrote the trajectory.
        completion = item.reference if kind == "sft-answer" else item.completion(fmt)
        out.append({"prompt": prompt_messages(sample, fmt),
                    "completion": [{"role": "assistant", "content": completion}],
                    **base, "strategy": item.strategy})
    return out


def to_dataset(rows: Sequence[dict[str, Any]]):
    """A :class:`datasets.Dataset` of ``rows`` (records of one kind)."""
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - the train extra installs it
        raise ImportError("the training exports need Hugging Face datasets: pip install 'rlog_env[train]'") from error
    if not rows:
        raise ValueError("expects at least one record to build a data set, got none")
    return datasets.Dataset.from_list(list(rows))


def sft_dataset(trajectories: Iterable[Trajectory], target: str = "reasoning", reasoning: str = THINK_FIRST):
    """An SFT data set: ``target="answer"`` is X→Y, ``"reasoning"`` is X→(R,Y) in ``reasoning``."""
    if target not in ("answer", "reasoning"):
        raise ValueError(f"target expects 'answer' (X→Y) or 'reasoning' (X→(R,Y)), got {target!r}")
    return to_dataset(records(trajectories, f"sft-{target}", reasoning))


def grpo_dataset(items: Iterable[Trajectory | Sample], reasoning: str = THINK_FIRST):
    """A GRPO prompt set with the reward columns ``task``, ``reference``, ``logs``, ``facts``."""
    return to_dataset(records(items, "grpo", reasoning))


def read_records(path: Path, parse: Callable[[Any], Any], what: str, command: str) -> list[Any]:
    """Every line of the JSON-lines file ``path`` read by ``parse`` (a decoded record -> the
    item; ``ValueError``, ``TypeError``, ``KeyError`` or ``AttributeError`` for a bad one). A
    missing file names ``command``, which writes it; a bad line is an error naming the file, the
    line and ``what`` was expected."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: expects a directory written by `{command} --out DIR`")
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                out.append(parse(json.loads(line)))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise ValueError(f"{path}:{number}: expects {what}, got {line[:80]!r} ({error})") from error
    return out


def read_trajectories(directory: str | os.PathLike) -> list[Trajectory]:
    """The trajectories of a reasoning data set written by ``rlog data reasoning``."""
    return read_records(Path(directory) / "trajectories.jsonl", Trajectory.from_record, "a trajectory record",
                        "rlog data reasoning")


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write ``rows`` as JSON lines, atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


__all__ = ["KINDS", "grpo_dataset", "prompt_messages", "read_records", "read_trajectories", "records", "sft_dataset",
           "to_dataset", "write_jsonl"]
