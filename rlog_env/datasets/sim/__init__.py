"""The O&M simulator as a sample source (``source="sim"``): endless, seeded, labelled episodes.

``train`` is endless: sample ``i`` is generated from ``np.random.SeedSequence([TRAIN_ROOT,
task, i, attempt])``, so any index gives the same episode in any process. ``test`` is a fixed,
versioned set of :data:`TEST_SET_SIZE` episodes per task (from another seed root), finite and
indexable like the real sources. The splits share no observation: a window carries random ids,
addresses and timestamps, so windows drawn from two seed roots never coincide; a parsing
message can repeat (a message without variables), so for parsing the message is hashed, as
for the real data, and each split keeps only messages whose hash falls on its side (the next
``attempt`` is drawn otherwise).

Domains: ``"seen"`` (default) draws seen families with their seen fault types; ``"unseen"``
draws only scenarios with an unseen family or an unseen fault type (catalogue/splits.json);
family names draw those families with all their faults.

Options: ``difficulty`` (``"easy"``, ``"medium"`` (default), ``"hard"``, a dict of
:class:`~rlog_env.datasets.sim.scenario.Difficulty` fields, or a ``Difficulty``) and, for
anomaly detection, ``granularity`` (``"window"``, default: is this window abnormal; or
``"line"``: is the last line shown abnormal, the lines before it as context; 70 % of the
faulty scenarios end on a fault line).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rlog_env.datasets.base import TEST, TRAIN, content_split
from rlog_env.datasets.sim.catalogue import CATALOGUE_VERSION, Catalogue, load_catalogue
from rlog_env.datasets.sim.scenario import Difficulty, Scenario, generate
from rlog_env.datasets.sim.values import Uniform, Uniforms, pick
from rlog_env.datasets.sim.seeding import sample_stream
from rlog_env.tasks import TASKS as TASK_CLASSES
from rlog_env.tasks import TEXT, Sample
from rlog_env.tasks.grounding import stated_facts
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

NAME = "sim"
TASKS = ("log_parsing", "anomaly_detection", "log_interpretation", "root_cause_analysis",
         "solution_recommendation")
TEST_SET_SIZE = 500
TEST_SET_VERSION = 2  # 2: every choice from the sample's uniform stream (1 drew some with rng.integers)
TRAIN_ROOT, TEST_ROOT = 0x52_4C_6F_67, 0x54_65_73_74 + 1_000_003 * TEST_SET_VERSION
GRANULARITIES = ("window", "line")
SEEN, UNSEEN = "seen", "unseen"
MAX_ATTEMPTS = 64
LINE_ABNORMAL_SHARE = 0.7
_TASK_CODE = {task: i for i, task in enumerate(TASKS)}
_TEXT_REFERENCE = {"log_interpretation": "interpretation", "root_cause_analysis": "root_cause",
                   "solution_recommendation": "solution"}
_INSTRUCTIONS = {
    "anomaly_detection": "Decide whether the following {title} logs show a problem: answer abnormal "
                         "if any line reports a failure, normal otherwise.",
    "anomaly_detection/line": "Decide whether the LAST line of the following {title} logs is normal "
                              "or abnormal; the lines before it are context.",
}


@dataclass(frozen=True)
class Pool:
    """The (family, fault) slots a domain selection draws from."""

    normal_families: tuple[str, ...]  # families whose fault-free windows belong to the domain
    faulty: tuple[tuple[str, tuple[str, ...]], ...]  # (family, its faults in the domain)


def domain_pool(catalogue: Catalogue, domains: tuple[str, ...] | None) -> Pool:
    """The families and faults a ``domains`` selection draws; ``ValueError`` if unknown."""
    chosen = domains or (SEEN,)
    names = set(catalogue.families)
    unknown = sorted(set(chosen) - names - {SEEN, UNSEEN})
    if unknown:
        raise ValueError(f"domains expects 'seen', 'unseen' or family names among "
                         f"{', '.join(sorted(names))} for source 'sim'; got unknown {', '.join(unknown)}")
    normal, faulty = set(), {}
    for name in sorted(catalogue.families):
        faults = [f.id for f in catalogue.faults_of(name)]
        family_unseen = name in catalogue.unseen_families
        if SEEN in chosen and not family_unseen:
            normal.add(name)
            faulty.setdefault(name, set()).update(f for f in faults if f not in catalogue.unseen_faults)
        if UNSEEN in chosen:
            if family_unseen:
                normal.add(name)
                faulty.setdefault(name, set()).update(faults)
            else:
                faulty.setdefault(name, set()).update(f for f in faults if f in catalogue.unseen_faults)
        if name in chosen:
            normal.add(name)
            faulty.setdefault(name, set()).update(faults)
    faulty_slots = tuple((n, tuple(sorted(fs))) for n, fs in sorted(faulty.items()) if fs)
    if not faulty_slots:
        raise ValueError(f"domains {list(chosen)} select no fault type for source 'sim'")
    return Pool(tuple(sorted(normal)), faulty_slots)


class SimSource:
    """Episodes of one task from the simulator, for one split and domain selection."""

    name = NAME

    def __init__(self, task: str, split: str, domains: tuple[str, ...] | None,
                 difficulty: Difficulty, granularity: str = "window"):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity expects 'window' or 'line', got {granularity!r}")
        if granularity == "line" and task != "anomaly_detection":
            raise ValueError("granularity='line' applies to anomaly_detection only")
        self.task, self.split, self.difficulty, self.granularity = task, split, difficulty, granularity
        self._text = TASK_CLASSES[task].kind == TEXT  # a free-text answer needs a fault to explain
        self.catalogue = load_catalogue()
        self.pool = domain_pool(self.catalogue, domains)
        self.domain_selection = domains or (SEEN,)
        self.finite = split == TEST
        self._root = TEST_ROOT if split == TEST else TRAIN_ROOT
        self.description = (f"simulator (catalogue v{CATALOGUE_VERSION}, test set v{TEST_SET_VERSION}), "
                            f"difficulty {difficulty}")

    def __len__(self) -> int:
        # The train stream is endless: any index below sys.maxsize is an episode.
        return TEST_SET_SIZE if self.finite else sys.maxsize

    @property
    def domains(self) -> tuple[str, ...]:
        """The families this selection can draw."""
        return tuple(sorted({n for n in self.pool.normal_families} | {n for n, _ in self.pool.faulty}))

    def __getitem__(self, index: int) -> Sample:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"a sample index must be an int, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"sample index expects 0 <= index < {len(self)} for sim/{self.task}/"
                             f"{self.split}, got {index}")
        if self.finite:
            return self._cached(index)
        return self._sample(index)

    @lru_cache(maxsize=4096)
    def _cached(self, index: int) -> Sample:
        return self._sample(index)

    def scenario(self, index: int, attempt: int) -> tuple[Scenario, Uniforms]:
        """The scenario of ``index`` at ``attempt``, and the uniform stream that drew it (whose
        next floats pick the line a line-level or parsing episode asks about).

        Every choice reads the sample's one stream of uniform floats: a NumPy scalar draw
        (``rng.integers``) costs microseconds, a float from the stream tens of nanoseconds.
        """
        stream = Uniforms(sample_stream((self._root, _TASK_CODE[self.task], index, attempt)))
        u, pool = stream.next, self.pool
        wants_fault = self._text or not pool.normal_families or u() < 0.5
        if wants_fault:
            family, faults = pick(u, pool.faulty)
            chosen = [pick(u, faults)]
            extra = [f for f in faults if f != chosen[0]]
            while extra and len(chosen) < self.difficulty.max_faults and u() < 0.3:
                chosen.append(extra.pop(int(u() * len(extra))))
        else:
            family, chosen = pick(u, pool.normal_families), []
        return generate(self.catalogue, family, tuple(chosen), self.difficulty, stream), stream

    def _sample(self, index: int) -> Sample:
        for attempt in range(MAX_ATTEMPTS):
            scenario, stream = self.scenario(index, attempt)
            sample = self._to_sample(scenario, index, attempt, stream.next)
            # A window carries random ids and timestamps: two seed roots never meet on one.
            # A parsing message can repeat (a constant message): its hash picks the split.
            if self.task != "log_parsing" or content_split(sample.logs) == self.split:
                return sample
        raise RuntimeError(  # pragma: no cover - each attempt lands in test with p = 0.2
            f"no {self.split} episode for sim/{self.task} index {index} in {MAX_ATTEMPTS} attempts")

    def _to_sample(self, scenario: Scenario, index: int, attempt: int, u: Uniform) -> Sample:
        family = self.catalogue.families[scenario.family]
        meta = {"source": NAME, "split": self.split, "family": scenario.family,
                "id": f"{NAME}/{self.split}/{self.task}/{index}", "index": index, "attempt": attempt,
                "catalogue_version": CATALOGUE_VERSION}
        # What would give the answer away (the faults, whether one is held out, the line
        # labels) stays out of meta, which agents see, and goes into facts, which they do not.
        hidden = {"faults": list(scenario.faults), "unseen": self._is_unseen(scenario)}
        task = self.task
        if task == "log_parsing":
            line = self._parsing_line(scenario, u)
            return Sample(task, scenario.family, line.message, line.template, facts=hidden, meta=meta)
        if task == "anomaly_detection":
            texts, labels = scenario.texts, scenario.labels
            if self.granularity == "line":
                stop = self._target_line(scenario, u) + 1
                texts, labels = texts[:stop], labels[:stop]
                label = ABNORMAL if labels[-1] else NORMAL
                instruction = _INSTRUCTIONS["anomaly_detection/line"]
            else:
                label = ABNORMAL if True in labels else NORMAL
                instruction = _INSTRUCTIONS["anomaly_detection"]
            hidden["line_labels"] = [ABNORMAL if abnormal else NORMAL for abnormal in labels]
            return Sample(task, scenario.family, "\n".join(texts), label,
                          instruction=instruction.format(title=family.title), facts=hidden, meta=meta)
        reference = getattr(scenario, _TEXT_REFERENCE[task])
        # Only the facts this reference states, by the grounded scheme's own rule: the
        # reference must earn the top reward.
        facts = tuple(stated_facts(reference, scenario.facts))
        # reference_field: which of the fault's catalogue texts the reference is (the reasoning
        # trajectories conclude on it).
        return Sample(task, scenario.family, scenario.window, reference,
                      facts={**hidden, "key_facts": facts, "reference_field": _TEXT_REFERENCE[task]},
                      meta=meta)

    def _target_line(self, scenario: Scenario, u: Uniform) -> int:
        """The line a line-level episode asks about: in a faulty scenario an abnormal one
        with probability :data:`LINE_ABNORMAL_SHARE`, so about a third of the episodes are
        abnormal, and a faulty window does not give its last line away."""
        labels = scenario.labels
        abnormal = [i for i, flag in enumerate(labels) if flag]
        normal = [i for i, flag in enumerate(labels) if not flag]
        return pick(u, abnormal if abnormal and u() < LINE_ABNORMAL_SHARE else normal)

    def _parsing_line(self, scenario: Scenario, u: Uniform):
        """The line a parsing episode asks about: uniform, or biased to lines with many
        variables by the difficulty's ``variable_density``."""
        counts = scenario.variable_counts
        draw = u()
        density = self.difficulty.variable_density
        if not density:
            return scenario.line(int(draw * len(counts)))
        weights = [(1 + n) ** density for n in counts]
        threshold, total = draw * sum(weights), 0.0
        for index, weight in enumerate(weights):
            total += weight
            if total > threshold:
                return scenario.line(index)
        return scenario.line(len(counts) - 1)

    def _is_unseen(self, scenario: Scenario) -> bool:
        c = self.catalogue
        return scenario.family in c.unseen_families or any(f in c.unseen_faults for f in scenario.faults)


@lru_cache(maxsize=None)
def open_source(task: str, split: str, domains: tuple[str, ...] | None,
                difficulty: Difficulty, granularity: str) -> SimSource:
    """The simulator source for a task, split, domain selection and difficulty (cached)."""
    return SimSource(task, split, domains, difficulty, granularity)


__all__ = ["Difficulty", "SimSource", "TEST_SET_SIZE", "domain_pool", "open_source"]
