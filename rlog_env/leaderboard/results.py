"""The results store of an evaluation run: one JSON line per episode, safe to interrupt.

A run directory holds ``config.json`` (the full configuration, the package version and a hash
of the evaluation samples) and ``results.jsonl``. Each episode is appended as one line and
flushed, so a run killed at any point loses at most the line being written; :func:`read_results`
drops a torn last line (and :func:`repair` truncates it away), and a resumed run skips every
episode already recorded, so nothing is counted twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

RESULTS = "results.jsonl"
CONFIG = "config.json"


def episode_key(record: dict[str, Any]) -> tuple[str, str, int]:
    """What identifies an episode within a run: (agent, environment, sample index)."""
    return record["agent"], record["env"], int(record["index"])


def repair(run_dir: Path) -> int:
    """Truncate a torn last line of ``results.jsonl`` (a run killed mid-write); return the
    number of bytes removed."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as handle:
        handle.truncate(keep)
    return len(data) - keep


def read_results(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Every complete episode record of a run, in the order written."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                return  # a torn last line: the episode is redone on resume
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {number}: not a JSON episode record ({exc.msg}); "
                                 "the file was edited or corrupted") from None


class ResultsWriter:
    """Appends episode records to ``results.jsonl``, one flushed line each."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RESULTS
        repair(run_dir)
        self._handle = self.path.open("a", encoding="utf-8")

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append a batch of records and make them durable (one fsync per batch)."""
        self._handle.write("".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# What the leaderboard reads of each episode: everything else (the observation above all, a few
# kilobytes per episode) stays on disk, so its memory is a few hundred bytes per episode.
LEADERBOARD_FIELDS = ("agent", "env", "task", "source", "domain", "unseen", "reasoning", "parsed_answer",
                      "reference", "reward", "metrics", "latency_s", "usage")
LEADERBOARD_METRICS = ("well_formed", "token_f1")


def slim(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` cut to :data:`LEADERBOARD_FIELDS`, the reward to its total, the metrics to
    :data:`LEADERBOARD_METRICS`."""
    out = {k: record.get(k) for k in LEADERBOARD_FIELDS}
    out["reward"] = {"total": record["reward"]["total"]}
    metrics = record.get("metrics") or {}
    out["metrics"] = {k: metrics[k] for k in LEADERBOARD_METRICS if k in metrics}
    return out


def read_frame(run_dirs, full: bool = True):
    """The episodes of one or more runs as a pandas DataFrame: every field (``full``), or only
    what the leaderboard reads (:func:`slim`)."""
    import pandas as pd

    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    rows = (record if full else slim(record) for run in run_dirs for record in read_results(Path(run)))
    return pd.DataFrame(list(rows))
