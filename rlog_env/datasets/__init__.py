"""Sample sources: where episodes come from.

``load_source(name, task, split=…, data_dir=…, domains=…)`` returns an indexed source of
:class:`~rlog_env.tasks.Sample` objects. Real data sets are read from ``data_dir`` or
``$RLOG_DATA_DIR`` (laid out like shared/data) once per process: a second load of the same
source costs a dictionary lookup.

The known overlaps between sources (every LogLM parsing input is a LogHub message, ...) are
listed in :data:`KNOWN_OVERLAPS`, and shown by ``rlog envs``.

Plain Python: nothing here imports Gymnasium or torch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from rlog_env.datasets import hdfs, loghub, loglm
from rlog_env.datasets.base import (
    DATA_DIR_ENV,
    SPLITS,
    DataError,
    FiniteSource,
    check_split,
    content_split,
    finite_source,
    resolve_data_dir,
)
from rlog_env.tasks import TASKS

# name -> (tasks it serves, sample loader(root, task, **options), domain lister(root, task))
SOURCES: dict[str, tuple[tuple[str, ...], Callable, Callable]] = {
    loghub.NAME: (loghub.TASKS, loghub.load_samples, loghub.domains),
    loglm.NAME: (loglm.TASKS, loglm.load_samples, loglm.domains),
    hdfs.NAME: (hdfs.TASKS, hdfs.load_samples, hdfs.domains),
}
# The source an environment uses when none is named (the simulator takes this role once it lands).
DEFAULT_SOURCES = {
    "log_parsing": loghub.NAME,
    "anomaly_detection": loghub.NAME,
    "log_interpretation": loglm.NAME,
    "root_cause_analysis": loglm.NAME,
    "solution_recommendation": loglm.NAME,
}
# Known overlaps between sources, for `rlog envs` and the docs: (source, source, what overlaps).
KNOWN_OVERLAPS: tuple[tuple[str, str, str], ...] = (
    ("loglm", "loghub", "every LogLM log-parsing input is a LogHub 2k message (HDFS, Hadoop, "
                        "Zookeeper, BGL, HPC, Linux, Proxifier): do not train parsing on one and "
                        "evaluate it on the other"),
    ("loglm", "loghub", "LogLM's anomaly-detection lines come from BGL and Spirit and may occur "
                        "in LogHub's BGL sample"),
    ("hdfs", "loghub", "HDFS sessions are rendered through the LogHub HDFS templates; the LogHub "
                       "HDFS 2k sample is drawn from the same HDFS_v1 log"),
    ("loglm", "loglm", "80 of LogLM's 228 test inputs appear in its instruction file under other "
                       "tasks; they are kept out of train when the test files are present"),
)
_OPTIONS = {loghub.NAME: {"ground_truth"}, loglm.NAME: set(), hdfs.NAME: set()}


def _domains_tuple(domains: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if domains is None:
        return None
    if isinstance(domains, str):
        return (domains,)
    result = tuple(domains)
    if not result or not all(isinstance(d, str) for d in result):
        raise ValueError(f"domains expects a name or a non-empty list of names, got {domains!r}")
    return tuple(sorted(set(result)))


def check_source(name: str, task: str) -> None:
    """Raise a ``ValueError`` unless source ``name`` exists and serves ``task``."""
    if task not in TASKS:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {task!r}")
    if name not in SOURCES:
        raise ValueError(f"source expects one of {', '.join(SOURCES)}, got {name!r}")
    if task not in SOURCES[name][0]:
        serving = [s for s, (tasks, _, _) in SOURCES.items() if task in tasks]
        raise ValueError(f"source {name!r} has no {task} samples; sources for {task}: {', '.join(serving)}")


def load_source(
    name: str,
    task: str,
    *,
    split: str = "train",
    data_dir: os.PathLike | str | None = None,
    domains: str | Iterable[str] | None = None,
    **options,
) -> FiniteSource:
    """The samples of ``task`` from source ``name`` in ``split``, restricted to ``domains``.

    ``options`` are source-specific: ``ground_truth="corrected" | "original"`` for ``loghub``.
    """
    check_source(name, task)
    check_split(split)
    unknown = set(options) - _OPTIONS[name]
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[name])) or "none"
        raise TypeError(f"source {name!r} got unknown option(s) {', '.join(sorted(unknown))}; it accepts: {allowed}")
    root = resolve_data_dir(data_dir)
    return _load(name, task, split, root, _domains_tuple(domains), tuple(sorted(options.items())))


@lru_cache(maxsize=None)
def _load(name: str, task: str, split: str, root: Path, domains: tuple[str, ...] | None,
          options: tuple[tuple[str, str], ...]) -> FiniteSource:
    _, load_samples, list_domains = SOURCES[name]
    samples = load_samples(root, task, **dict(options))
    return finite_source(name, task, split, samples, domains, list_domains(root, task))


__all__ = [
    "DATA_DIR_ENV", "DEFAULT_SOURCES", "KNOWN_OVERLAPS", "SOURCES", "SPLITS", "DataError", "FiniteSource",
    "check_source", "content_split", "load_source", "resolve_data_dir",
]
