"""What every sample source shares: data errors, the data directory, splits, finite sources.

A source turns a data set (or the simulator) into :class:`~rlog_env.tasks.Sample` objects for
one task and one split. Splits are decided by content: a sample's split is a pure function of
its content key (the log message or input), so the same content is never in both splits, the
split does not depend on file order, and it is the same in every process.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

from rlog_env.tasks import Sample

TRAIN, TEST = "train", "test"
SPLITS = (TRAIN, TEST)
TEST_FRACTION = 0.2  # share of content keys held out for `test` where a data set has no test split
DATA_DIR_ENV = "RLOG_DATA_DIR"


class DataError(ValueError):
    """A data file is missing or malformed. The message names the file, the line and what was
    expected, so the file can be fixed or fetched again."""

    def __init__(self, path: os.PathLike | str, problem: str, *, line: int | None = None):
        self.path, self.line, self.problem = Path(path), line, problem
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}")


def resolve_data_dir(data_dir: os.PathLike | str | None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$RLOG_DATA_DIR``; it must exist."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise FileNotFoundError(
            "no data directory for a real data source: pass data_dir=PATH or set the environment "
            f"variable {DATA_DIR_ENV} to a folder laid out like shared/data (loghub/, "
            "loghub2_2k_corrected/, loglm/, ...)"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        origin = "data_dir" if data_dir is not None else DATA_DIR_ENV
        raise FileNotFoundError(
            f"{origin} points at {path}, which is not a directory; point it at a folder laid out "
            "like shared/data (loghub/, loghub2_2k_corrected/, loglm/, ...)"
        )
    return path.resolve()


def check_split(split: str) -> str:
    """Return ``split`` if it is ``train`` or ``test``, else raise a ``ValueError``."""
    if split not in SPLITS:
        raise ValueError(f"split expects 'train' or 'test', got {split!r}")
    return split


def content_split(key: str, test_fraction: float = TEST_FRACTION) -> str:
    """The split of a content key: ``test`` for a fixed ``test_fraction`` of all keys.

    The key is hashed (SHA-256), so the split is the same in every process and independent of
    the order in which the data is read.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return TEST if int.from_bytes(digest[:8], "big") < test_fraction * 2**64 else TRAIN


def read_text(path: Path) -> str:
    """The text of a UTF-8 file; a missing file, a directory or a bad byte is a ``DataError``."""
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "expected a file, found a directory")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(path, f"not valid UTF-8 at byte {exc.start} (column {column}): {exc.reason}; "
                              "expected UTF-8 text", line=line) from None


def read_csv(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` from a UTF-8 CSV file, checking its header and row widths."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(path, f"empty file; expected a CSV header with {', '.join(required)}", line=1) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(path, f"header lacks column(s) {', '.join(missing)}; expected "
                                  f"{', '.join(required)}, found {', '.join(header)}", line=1)
        for row in reader:
            if len(row) != len(header):
                raise DataError(path, f"expected {len(header)} fields as in the header, found {len(row)}",
                                line=reader.line_num)
            yield reader.line_num, dict(zip(header, row))
    except csv.Error as exc:
        raise DataError(path, f"malformed CSV: {exc}", line=reader.line_num) from None


@dataclass(frozen=True)
class FiniteSource:
    """A finite, indexed list of samples of one task and split (a real data set).

    ``source[i]`` is sample ``i``; ``len(source)`` the split's size. Each sample's ``meta``
    carries ``source``, ``split`` and ``index``.
    """

    name: str
    task: str
    split: str
    samples: tuple[Sample, ...]
    description: str = ""
    finite = True  # every sample can be walked by index (the simulator's train stream cannot)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"a sample index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(self.samples):
            raise IndexError(
                f"sample index expects 0 <= index < {len(self.samples)} for {self.name}/{self.task}/"
                f"{self.split}, got {index}"
            )
        return self.samples[index]

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains (systems) present, sorted."""
        return tuple(sorted({s.domain for s in self.samples}))


def finite_source(name: str, task: str, split: str, samples: Sequence[Sample],
                  domains: tuple[str, ...] | None, available: Sequence[str],
                  description: str = "") -> FiniteSource:
    """Keep ``split``'s samples of the named ``domains`` and index them.

    ``samples`` are all samples of the task with ``meta["split"]`` set; ``available`` are the
    domains the data set can have, used to reject an unknown domain with a useful message.
    """
    if domains is not None:
        unknown = sorted(set(domains) - set(available))
        if unknown:
            raise ValueError(
                f"domains expects names among {', '.join(sorted(available))} for source {name!r}, "
                f"task {task!r}; got unknown {', '.join(unknown)}"
            )
    kept = [s for s in samples
            if s.meta["split"] == split and (domains is None or s.domain in domains)]
    if not kept:
        raise ValueError(
            f"source {name!r} has no {task} samples in split {split!r}"
            + (f" for domains {', '.join(domains)}" if domains else "")
        )
    indexed = tuple(replace(s, meta={**s.meta, "index": i}) for i, s in enumerate(kept))
    return FiniteSource(name, task, split, indexed, description)
