"""Real-log incidents: windows of LogHub's BGL log, its per-line alert labels as the truth.

``loghub/BGL/BGL_2k.log_structured.csv`` holds 2,000 lines of the BlueGene/L supercomputer's RAS
log (Oliner and Stearley, DSN 2007), each with its node, time, component, level, message,
template and alert label (``-`` for a normal line, else the alert category, such as
``KERNDTLB``). An incident is a window of consecutive lines: its components are the nodes that
wrote them, a fault is a node's alert lines (its category the node's first alert category, its
onset its first alert line), so ``RLog/FaultLocalization-v0`` asks which nodes raised alerts,
``RLog/IncidentDetection-v0`` whether any did and since when, and
``RLog/RootCauseInvestigation-v0`` for the first alert's category, node and time (BGL states no
cause: that element does not apply). The same tools read it as they read the simulator's.

Splits are by node (:func:`~rlog_env.datasets.base.content_split` of the node name): a test
incident holds only nodes no training incident shows. Each split's lines keep their order and
are cut into windows of ``window`` lines every ``stride`` lines: a finite, indexable set.
Malformed data is a :class:`~rlog_env.datasets.base.DataError` naming the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path

from rlog_env._times import US
from rlog_env.datasets import loghub
from rlog_env.datasets.base import DataError, content_split, read_csv
from rlog_env.datasets.sim.incident import IncidentLines
from rlog_env.datasets.sim.incident_model import Component, FaultTruth, Incident, IncidentTruth

NAME = loghub.NAME
SYSTEM = loghub.AD_SYSTEM
WINDOW, STRIDE = 120, 20
_LEVELS = {"INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR", "SEVERE": "ERROR", "FAILURE": "FATAL",
           "FATAL": "FATAL"}
_TIME = "%Y-%m-%d-%H.%M.%S.%f"


@dataclass(frozen=True)
class _Row:
    node: str
    time: int
    level: str
    text: str
    template: str
    label: str


def structured_path(root: Path) -> Path:
    return root / "loghub" / SYSTEM / f"{SYSTEM}_2k.log_structured.csv"


@lru_cache(maxsize=None)
def bgl_rows(root: Path) -> tuple[_Row, ...]:
    """Every line of the BGL sample, checked, in its order (the file is in time order)."""
    path = structured_path(root)
    rows = []
    columns = ("LineId", "Label", "Node", "Time", "Type", "Component", "Level", "Content", "EventTemplate")
    for line, row in read_csv(path, root, columns):
        if row["Label"] != "-" and not loghub.ALERT_CATEGORY.fullmatch(row["Label"]):
            raise DataError(path, f"expected the Label '-' or an alert category such as KERNDTLB, found "
                                  f"{row['Label']!r}", line=line)
        if row["Level"] not in _LEVELS:
            raise DataError(path, f"expected a Level among {', '.join(_LEVELS)}, found {row['Level']!r}", line=line)
        try:
            stamp = datetime.strptime(row["Time"], _TIME).replace(tzinfo=timezone.utc)
        except ValueError:
            raise DataError(path, f"expected a Time like 2005-06-03-15.42.50.675872, found {row['Time']!r}",
                            line=line) from None
        if not row["Node"].strip():
            raise DataError(path, "empty Node; expected the node that wrote the line", line=line)
        time = int(stamp.timestamp()) * US + stamp.microsecond
        text = f"{row['Time']} {row['Node']} {row['Type']} {row['Component']} {row['Level']} {row['Content']}"
        rows.append(_Row(row["Node"], time, _LEVELS[row["Level"]], text, row["EventTemplate"], row["Label"]))
    if not rows:
        raise DataError(path, "no lines; expected the 2,000 lines of LogHub's BGL sample")
    if any(a.time > b.time for a, b in zip(rows, rows[1:])):
        raise DataError(path, "lines are not in time order; expected LogHub's BGL sample as shipped")
    return tuple(rows)


def clear_cache() -> None:
    """Forget the file read (a failed load calls it)."""
    bgl_rows.cache_clear()


class BGLIncidents:
    """The BGL incidents of one split: windows of ``window`` consecutive lines (of the split's
    nodes) every ``stride`` lines."""

    def __init__(self, root: Path, split: str, domains, window: int = WINDOW, stride: int = STRIDE):
        if domains not in (None, (SYSTEM,)):
            raise ValueError(f"domains expects {SYSTEM!r} (or none) for the loghub incidents, got {list(domains)}")
        for name, value in (("window", window), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} expects a positive int of lines, got {value!r}")
        try:
            self.rows = tuple(r for r in bgl_rows(root) if content_split(r.node) == split)
        except BaseException:
            clear_cache()
            raise
        self.root, self.split, self.window, self.stride = root, split, window, stride
        self.starts = range(0, max(1, len(self.rows) - window + 1), stride)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Incident:
        start = self.starts[index]  # an IndexError names the range
        rows = self.rows[start:start + self.window]
        nodes = list(dict.fromkeys(r.node for r in rows))
        alerts: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            if row.label != "-":
                alerts.setdefault(row.node, []).append(i)
        faults = sorted((FaultTruth(f"bgl.{rows[lines[0]].label}", rows[lines[0]].label, node, rows[lines[0]].time,
                                    (), tuple(lines), "") for node, lines in alerts.items()),
                        key=lambda fault: (fault.onset, fault.component))
        lines = IncidentLines(tuple(r.node for r in rows), tuple(r.time for r in rows), tuple(r.level for r in rows),
                              tuple(r.text for r in rows), tuple(r.template for r in rows))
        first, last = rows[0].time, rows[-1].time
        alert = (f"Operators were asked to review {len(nodes)} compute and I/O nodes of the BlueGene/L system "
                 f"over the RAS log from {_day(first)} to {_day(last)}.")
        return Incident(f"{NAME}/{SYSTEM}/{self.split}/window/{index}",
                        tuple(Component(node, "bgl", node) for node in nodes), lines, first, last + 1, alert,
                        IncidentTruth(tuple(faults), False, tuple(r.label != "-" for r in rows)))

    @property
    def identity(self) -> str:
        return f"{NAME}/{SYSTEM}/{self.split}/window{self.window}/stride{self.stride}/{len(self.rows)}"

    @cached_property
    def categories(self) -> tuple[str, ...]:
        """Every alert category of the file (both splits): the vocabulary, not the answer."""
        return tuple(sorted({r.label for r in bgl_rows(self.root) if r.label != "-"}))


def _day(us: int) -> str:
    return datetime.fromtimestamp(us // US, tz=timezone.utc).strftime("%Y-%m-%d")
