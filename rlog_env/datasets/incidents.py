"""Incident sources: where the investigation environments' incidents come from.

An incident source turns ``(split, index)`` into an
:class:`~rlog_env.datasets.sim.incident_model.Incident` (several components, their interleaved
logs, the hidden truth) and declares what it serves: its splits, its options with their
validation, its domains and the fault categories an answer may name. :data:`INCIDENT_SOURCES`
holds the registered ones; :func:`register_incident_source` adds one (from outside the package
too) and :func:`unregister_incident_source` removes it. The simulator (``sim``) is the default.

Plain Python: nothing here imports Gymnasium.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from rlog_env._registry import Registry
from rlog_env.datasets import SourceOption, _domains_tuple, _sim_training_domains, prepare_options
from rlog_env.datasets import bgl_incidents
from rlog_env.datasets.base import SPLITS, check_split, resolve_data_dir
from rlog_env.datasets.sim import SEEN, UNSEEN
from rlog_env.datasets.sim.catalogue import load_catalogue
from rlog_env.datasets.sim.incident import TEST_SIZE, TEST_VERSION, IncidentDifficulty, check_domains, generate_incident
from rlog_env.datasets.sim.incident_model import Incident


class IncidentSet(Protocol):
    """What an incident source opens: an indexed split of incidents."""

    split: str
    categories: tuple[str, ...]  # every fault category an answer may name, sorted
    identity: str  # names the set's incidents (source, version, split, domains, difficulty)

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Incident: ...


@dataclass(frozen=True)
class IncidentSourceSpec:
    """A registered incident source.

    Arguments:
        name: the ``source=`` name.
        open: ``(root or None, split, domains or None, options dict) -> IncidentSet``; ``root``
            is the data directory of a source that ``needs_data``.
        options: the :class:`~rlog_env.datasets.SourceOption` objects it accepts.
        description: one line for ``rlog envs`` and the manuals.
        splits: the splits it serves.
        domains_doc: what its domains are, for the manuals.
        needs_data: whether it reads a data directory (real logs) or needs none.
        training_domains: ``domains -> domains`` an investigator may fit on for an evaluation
            over ``domains`` (the simulator keeps its unseen domains out); ``None``: the same.
    """

    name: str
    open: Callable[[Path | None, str, tuple[str, ...] | None, dict], IncidentSet]
    options: tuple[SourceOption, ...] = ()
    description: str = ""
    splits: tuple[str, ...] = SPLITS
    domains_doc: str = ""
    needs_data: bool = False
    training_domains: Callable[[tuple[str, ...] | None], tuple[str, ...] | None] | None = None

    def fit_domains(self, domains: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """The domains an investigator may fit on for an evaluation over ``domains``."""
        return self.training_domains(domains) if self.training_domains else domains

    def prepare_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked and normalised (:func:`rlog_env.datasets.prepare_options`)."""
        return prepare_options(f"incident source {self.name!r}", self.options, options)


def _check(name: str, spec: IncidentSourceSpec) -> None:
    if not isinstance(spec, IncidentSourceSpec):
        raise TypeError(f"register_incident_source expects an IncidentSourceSpec, got {type(spec).__name__}")
    bad = [s for s in spec.splits if s not in SPLITS]
    if bad:
        raise ValueError(f"incident source {spec.name!r} declares split(s) {bad}; splits are {', '.join(SPLITS)}")


INCIDENT_SOURCES: Registry = Registry("incident source", _check)


def register_incident_source(spec: IncidentSourceSpec) -> IncidentSourceSpec:
    """Register ``spec`` under its ``name``; a name already taken is a ``ValueError``."""
    return INCIDENT_SOURCES.add(getattr(spec, "name", None), spec)


def unregister_incident_source(name: str) -> None:
    """Remove the incident source ``name`` (the inverse of :func:`register_incident_source`)."""
    INCIDENT_SOURCES.remove(name)


def open_incidents(name: str, split: str = "train", domains: str | Iterable[str] | None = None,
                   data_dir: os.PathLike | str | None = None, **options: Any) -> IncidentSet:
    """The incidents of source ``name`` in ``split``, restricted to ``domains``, with the
    source's ``options`` (``difficulty`` for ``sim``; ``window`` and ``stride`` for
    ``loghub``); a real source reads ``data_dir`` (default ``$RLOG_DATA_DIR``)."""
    spec = INCIDENT_SOURCES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"source expects one of {', '.join(map(repr, INCIDENT_SOURCES))} for an "
                         f"investigation, got {name!r}")
    check_split(split)
    if split not in spec.splits:
        raise ValueError(f"incident source {name!r} has no {split!r} split; it has {', '.join(spec.splits)}")
    domains = _domains_tuple(domains)
    root = resolve_data_dir(data_dir) if spec.needs_data else None
    return spec.open(root, split, domains, spec.prepare_options(options))


class SimIncidents:
    """The simulator's incidents of one split, domain selection and difficulty: ``train`` is
    endless (any index below ``sys.maxsize``), ``test`` has :data:`TEST_SIZE` incidents."""

    def __init__(self, split: str, domains: Sequence[str] | None, difficulty: IncidentDifficulty):
        self.split, self.domains, self.difficulty = split, domains, difficulty
        self.catalogue = load_catalogue()
        check_domains(self.catalogue, domains)  # a bad selection fails here, not at the first reset

    def __len__(self) -> int:
        return TEST_SIZE if self.split == "test" else sys.maxsize

    def __getitem__(self, index: int) -> Incident:
        return generate_incident(self.catalogue, index, self.split, self.domains, self.difficulty)

    @property
    def identity(self) -> str:
        return f"sim/incidents/v{TEST_VERSION}/{self.split}/{self.domains}/{self.difficulty}"

    @cached_property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({fault.category for fault in self.catalogue.faults.values()}, key=str.casefold))


register_incident_source(IncidentSourceSpec(
    "sim",
    lambda root, split, domains, options: SimIncidents(split, domains, options["difficulty"]),
    options=(SourceOption(
        "difficulty", '``"easy"``, ``"medium"`` (default) or ``"hard"``, or a dict of components, lines '
        "(1,000 to 200,000; default 10,000), span (minutes), max_faults, fault_free_share (default 0.2), "
        "distractors, noise, cascades.",
        prepare=IncidentDifficulty.of, default="medium"),),
    description="the O&M simulator's incidents (embedded, endless)",
    training_domains=_sim_training_domains,  # the one-step simulator's rule: never a held-out domain
    domains_doc=f'``"{SEEN}"`` (default), ``"{UNSEEN}"`` (incidents with a held-out family or fault '
                "type) or family names.",
))

register_incident_source(IncidentSourceSpec(
    bgl_incidents.NAME,
    lambda root, split, domains, options: bgl_incidents.BGLIncidents(root, split, domains, **options),
    options=(SourceOption("window", f"lines in an incident (default {bgl_incidents.WINDOW}).",
                          default=bgl_incidents.WINDOW),
             SourceOption("stride", f"lines between the starts of two incidents (default {bgl_incidents.STRIDE}).",
                          default=bgl_incidents.STRIDE)),
    description="windows of LogHub's BGL log, its alert labels as the truth (real logs)",
    domains_doc=f"``{bgl_incidents.SYSTEM!r}`` (the only one).", needs_data=True,
))

__all__ = ["INCIDENT_SOURCES", "IncidentSet", "IncidentSourceSpec", "SimIncidents", "open_incidents",
           "register_incident_source", "unregister_incident_source"]
