"""Sample sources: where episodes come from.

``load_source(name, task, split=…, data_dir=…, domains=…)`` returns an indexed source of
:class:`~rlog_env.tasks.Sample` objects. Real data sets are read from ``data_dir`` or
``$RLOG_DATA_DIR`` (laid out like shared/data) once per process: a second load of the same
source costs a dictionary lookup. Broken data is a :class:`DataError` naming the file, the line
and what was expected (see :mod:`rlog_env.datasets.base`); a failed load caches nothing, so the
same process can load the data again once the file is fixed.

The known overlaps between sources (every LogLM parsing input is a LogHub message, ...) are
listed in :data:`KNOWN_OVERLAPS`, and shown by ``rlog envs``.

Plain Python: nothing here imports Gymnasium or torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from rlog_env.datasets import hdfs, loghub, loglm, sim
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

@dataclass(frozen=True)
class SourceSpec:
    """A registered source: the tasks it serves, how to open it, the options it takes."""

    name: str
    tasks: tuple[str, ...]
    open: Callable  # (root or None, task, split, domains, options dict) -> source
    options: frozenset[str] = frozenset()
    needs_data: bool = True  # real data sets are read from a data directory
    description: str = ""


def _real(module) -> Callable:
    def open_real(root: Path, task: str, split: str, domains, options: dict) -> FiniteSource:
        try:
            samples = module.load_samples(root, task, **options)
        except BaseException:
            # A failed load keeps nothing it read: once the file is fixed, the next load reads
            # every file again instead of mixing a cache from before the fix with new files.
            module.clear_cache()
            raise
        return finite_source(module.NAME, task, split, samples, domains, module.domains(root, task))

    return open_real


def _open_sim(root: None, task: str, split: str, domains, options: dict):
    return sim.open_source(task, split, domains, options["difficulty"], options["granularity"])


SOURCES: dict[str, SourceSpec] = {
    sim.NAME: SourceSpec(sim.NAME, sim.TASKS, _open_sim, frozenset({"difficulty", "granularity"}),
                         needs_data=False, description="the O&M simulator (embedded, endless)"),
    loghub.NAME: SourceSpec(loghub.NAME, loghub.TASKS, _real(loghub), frozenset({"ground_truth"}),
                            description="LogHub 2k samples"),
    loglm.NAME: SourceSpec(loglm.NAME, loglm.TASKS, _real(loglm), description="LogLM instruction data"),
    hdfs.NAME: SourceSpec(hdfs.NAME, hdfs.TASKS, _real(hdfs), description="HDFS block sessions"),
}
# The source an environment uses when none is named: the simulator, which needs no data.
DEFAULT_SOURCES = {task: sim.NAME for task in TASKS}
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
    if task not in SOURCES[name].tasks:
        serving = [s for s, spec in SOURCES.items() if task in spec.tasks]
        raise ValueError(f"source {name!r} has no {task} samples; sources for {task}: {', '.join(serving)}")


def load_source(
    name: str,
    task: str,
    *,
    split: str = "train",
    data_dir: os.PathLike | str | None = None,
    domains: str | Iterable[str] | None = None,
    **options,
):
    """The samples of ``task`` from source ``name`` in ``split``, restricted to ``domains``.

    ``options`` are source-specific: ``ground_truth="corrected" | "original"`` for ``loghub``;
    ``difficulty`` and ``granularity`` for ``sim``. A real source is read once per process.
    """
    check_source(name, task)
    check_split(split)
    spec = SOURCES[name]
    unknown = set(options) - spec.options
    if unknown:
        allowed = ", ".join(sorted(spec.options)) or "none"
        raise TypeError(f"source {name!r} got unknown option(s) {', '.join(sorted(unknown))}; it accepts: {allowed}")
    if name == sim.NAME:
        options = {"difficulty": sim.Difficulty.of(options.get("difficulty", "medium")),
                   "granularity": options.get("granularity", "window")}
    root = resolve_data_dir(data_dir) if spec.needs_data else None
    return _load(name, task, split, root, _domains_tuple(domains), tuple(sorted(options.items())))


@lru_cache(maxsize=None)
def _load(name: str, task: str, split: str, root: Path | None, domains: tuple[str, ...] | None,
          options: tuple[tuple[str, object], ...]):
    return SOURCES[name].open(root, task, split, domains, dict(options))


__all__ = [
    "DATA_DIR_ENV", "DEFAULT_SOURCES", "KNOWN_OVERLAPS", "SOURCES", "SPLITS", "DataError",
    "FiniteSource", "SourceSpec", "check_source", "content_split", "load_source", "resolve_data_dir",
]
