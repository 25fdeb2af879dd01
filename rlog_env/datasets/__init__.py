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
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from rlog_env._registry import Registry
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
class SourceOption:
    """An option a source takes (a keyword argument of ``load_source`` and ``gymnasium.make``).

    ``doc`` is its line in the environment manual; ``tasks`` the tasks it applies to (``None``:
    all the source serves); ``prepare`` checks a given value and returns it normalised (raising
    a ``ValueError`` that names what was wrong); ``default`` is what an omitted option means
    (``None``: the option is left to the loader).
    """

    name: str
    doc: str
    tasks: tuple[str, ...] | None = None
    prepare: Callable[[Any], Any] | None = None
    default: Any = None


def prepare_options(owner: str, accepted: tuple[SourceOption, ...], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked by each accepted option's ``prepare`` and normalised, with the
    defaults of omitted ones; an option not accepted is a ``TypeError`` naming ``owner`` and
    the options it accepts."""
    names = [option.name for option in accepted]
    unknown = set(options) - set(names)
    if unknown:
        raise TypeError(f"{owner} got unknown option(s) {', '.join(sorted(unknown))}; "
                        f"it accepts: {', '.join(sorted(names)) or 'none'}")
    prepared = {}
    for option in accepted:
        value = options.get(option.name, option.default)
        if value is not None:
            prepared[option.name] = option.prepare(value) if option.prepare else value
    return prepared


@dataclass(frozen=True)
class SourceSpec:
    """A registered source: what it serves, how to open it, the options it takes.

    Arguments:
        name: the ``source=`` name.
        tasks: the task names it has samples for.
        open: ``(root or None, task, split, domains, options dict) -> source``, an indexed
            source of samples (:class:`~rlog_env.datasets.base.FiniteSource` or endless).
        options: the :class:`SourceOption` objects it accepts.
        needs_data: whether it reads a data directory (real data sets) or needs none.
        description: one line for ``rlog envs`` and the manuals.
        splits: the splits it serves.
        key_facts: whether its samples carry ``facts["key_facts"]`` (what ``grounded`` reads).
        eval_episodes: the episodes an evaluation takes per environment when none are asked
            for (``None``: every sample of the split).
        eval_domains: the domains an evaluation covers when none are named (``None``: all).
        training_domains: ``domains -> domains`` an agent may fit on for an evaluation over
            ``domains`` (the simulator keeps its unseen domains out); ``None``: the same.
        domains_doc: what its domains are, for the manuals.
        marks_unseen: whether its samples say if they involve a held-out domain
            (``facts["unseen"]``), so results break down by seen and unseen.
    """

    name: str
    tasks: tuple[str, ...]
    open: Callable
    options: tuple[SourceOption, ...] = ()
    needs_data: bool = True
    description: str = ""
    splits: tuple[str, ...] = SPLITS
    key_facts: bool = False
    eval_episodes: int | None = None
    eval_domains: tuple[str, ...] | None = None
    training_domains: Callable[[tuple[str, ...] | None], tuple[str, ...] | None] | None = None
    domains_doc: str = ""
    marks_unseen: bool = False

    def serves(self, task: str) -> bool:
        """Whether the source has samples of ``task``."""
        return task in self.tasks

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(option.name for option in self.options)

    def prepare_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked and normalised (:func:`prepare_options`)."""
        return prepare_options(f"source {self.name!r}", self.options, options)

    def fit_domains(self, domains: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """The domains an agent may fit on for an evaluation over ``domains``."""
        return self.training_domains(domains) if self.training_domains else domains


def _real(module, absent: Callable | None = None) -> Callable:
    """The opener of a real data set's ``module``; ``absent(root, task, **options)`` names the
    domains its split names but the directory lacks (reported when no domains are asked for)."""
    def open_real(root: Path, task: str, split: str, domains, options: dict) -> FiniteSource:
        try:
            samples = module.load_samples(root, task, **options)
        except BaseException:
            # A failed load keeps nothing it read: once the file is fixed, the next load reads
            # every file again instead of mixing a cache from before the fix with new files.
            module.clear_cache()
            raise
        source = finite_source(module.NAME, task, split, samples, domains, module.domains(root, task))
        missing = absent(root, task, **options) if absent is not None and domains is None else ()
        return replace(source, absent=missing) if missing else source

    return open_real


def _open_sim(root: None, task: str, split: str, domains, options: dict):
    return sim.open_source(task, split, domains, options["difficulty"], options["granularity"])


def _sim_training_domains(domains: tuple[str, ...] | None) -> tuple[str, ...]:
    # Never an unseen family or fault type: the seen/unseen comparison measures generalisation.
    return tuple(d for d in (domains or ()) if d != sim.UNSEEN) or (sim.SEEN,)


def _check(name: str, spec: SourceSpec) -> None:
    """A source serves registered tasks, in known splits."""
    if not isinstance(spec, SourceSpec):
        raise TypeError(f"register_source expects a SourceSpec, got {type(spec).__name__}")
    unknown = [t for t in spec.tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"source {spec.name!r} serves unregistered task(s) {', '.join(unknown)}; "
                         "register the task first (rlog_env.tasks.register_task)")
    bad_splits = [s for s in spec.splits if s not in SPLITS]
    if bad_splits:
        raise ValueError(f"source {spec.name!r} declares split(s) {bad_splits}; splits are {', '.join(SPLITS)}")


SOURCES: Registry = Registry("source", _check)


def register_source(spec: SourceSpec) -> SourceSpec:
    """Register ``spec`` under its ``name`` (from outside the package too); a name already
    taken, or a task that is not registered, is a ``ValueError``."""
    return SOURCES.add(getattr(spec, "name", None), spec)


def unregister_source(name: str) -> None:
    """Remove the source ``name`` and forget what was loaded from it (the inverse of
    :func:`register_source`)."""
    SOURCES.remove(name)
    _load.cache_clear()


@contextmanager
def registered_source(spec: SourceSpec) -> Iterator[SourceSpec]:
    """``spec`` registered for the duration of a ``with`` block (for tests)."""
    try:
        with SOURCES.registered(getattr(spec, "name", None), spec):
            yield spec
    finally:
        _load.cache_clear()  # nothing loaded from it outlives it


def sources_for(task: str) -> tuple[str, ...]:
    """The names of the registered sources that serve ``task``."""
    return tuple(name for name, spec in SOURCES.items() if spec.serves(task))


register_source(SourceSpec(
    sim.NAME, sim.TASKS, _open_sim,
    options=(
        SourceOption("difficulty", '``"easy"``, ``"medium"`` (default), ``"hard"``, or a dict of '
                     "window, distractors, noise, cascades, max_faults, variable_density.",
                     prepare=sim.Difficulty.of, default="medium"),
        SourceOption("granularity", '``"window"`` (default: is this window abnormal) or ``"line"`` '
                     "(is the last line shown abnormal).", tasks=("anomaly_detection",), default="window"),
    ),
    needs_data=False, description="the O&M simulator (embedded, endless)", key_facts=True,
    eval_episodes=100, eval_domains=(sim.SEEN, sim.UNSEEN), training_domains=_sim_training_domains,
    marks_unseen=True,
    domains_doc='``"seen"`` (default), ``"unseen"`` (held-out families and fault types, to '
                "measure generalisation) or family names.",
))
register_source(SourceSpec(
    loghub.NAME, loghub.TASKS, _real(loghub, loghub.absent_systems),
    options=(SourceOption("ground_truth", '``"corrected"`` (default) or ``"original"`` templates.',
                          tasks=("log_parsing",)),
             SourceOption("protocol", '``"within"`` (default: every system in both splits) or '
                          f'``"unseen"`` (leave systems out: {", ".join(loghub.HELD_OUT)} have no train '
                          "samples; test samples say ``unseen``).", prepare=loghub.check_protocol)),
    description="LogHub 2k samples", domains_doc="the LogHub systems (``rlog envs`` lists them).",
))
register_source(SourceSpec(loglm.NAME, loglm.TASKS, _real(loglm), description="LogLM instruction data",
                           domains_doc="the systems LogLM's samples name (``rlog envs`` lists them)."))
register_source(SourceSpec(hdfs.NAME, hdfs.TASKS, _real(hdfs), description="HDFS block sessions"))

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
    if not SOURCES[name].serves(task):
        serving = ", ".join(sources_for(task)) or "none registered"
        raise ValueError(f"source {name!r} has no {task} samples; sources for {task}: {serving}")


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

    ``options`` are the source's own (:attr:`SourceSpec.options`: ``ground_truth`` for
    ``loghub``; ``difficulty`` and ``granularity`` for ``sim``). A real source is read once per
    process.
    """
    check_source(name, task)
    check_split(split)
    spec = SOURCES[name]
    if split not in spec.splits:
        raise ValueError(f"source {name!r} has no {split!r} split; it has {', '.join(spec.splits)}")
    options = spec.prepare_options(options)
    root = resolve_data_dir(data_dir) if spec.needs_data else None
    return _load(name, task, split, root, _domains_tuple(domains), tuple(sorted(options.items())))


@lru_cache(maxsize=None)
def _load(name: str, task: str, split: str, root: Path | None, domains: tuple[str, ...] | None,
          options: tuple[tuple[str, object], ...]):
    return SOURCES[name].open(root, task, split, domains, dict(options))


__all__ = [
    "DATA_DIR_ENV", "KNOWN_OVERLAPS", "SOURCES", "SPLITS", "DataError", "FiniteSource", "SourceOption",
    "SourceSpec", "check_source", "content_split", "load_source", "prepare_options", "register_source",
    "registered_source", "resolve_data_dir", "sources_for", "unregister_source",
]
