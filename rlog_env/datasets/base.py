"""What every sample source shares: data errors, the data directory, splits, finite sources.

A source turns a data set (or the simulator) into :class:`~rlog_env.tasks.Sample` objects for
one task and one split. Splits are decided by content: a sample's split is a pure function of
its content key (the log message or input), so the same content is never in both splits, the
split does not depend on file order, and it is the same in every process.

Data files are read only through :func:`read_text`, :func:`read_lines` and :func:`read_csv`, so
every source refuses broken data the same way: a :class:`DataError` naming the file, the line
and what was expected, never a file silently skipped or half read. Data is text (CSV, JSON,
plain lines); nothing here unpickles or evaluates anything.
"""

from __future__ import annotations

import codecs
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


MAX_LINE_CHARS = 1 << 17
"""The longest line (and the longest CSV field or JSON string) a data file may hold: 131,072
characters, the csv module's own field limit. Real log lines are far shorter (the longest in
shared/data has 2,566 characters); a longer one is a lost line break or binary data."""


def outside_of(path: Path, root: Path) -> Path | None:
    """Where ``path`` really leads, with every symbolic link on the way followed, if that is
    outside the directory ``root``; ``None`` if it stays inside."""
    target, root = path.resolve(), root.resolve()
    return None if target == root or target.is_relative_to(root) else target


def check_inside(path: Path, root: Path) -> None:
    """Raise a ``DataError`` if ``path``, with every symbolic link on the way followed, leaves the
    data directory ``root``.

    A data directory is often fetched or shared by someone else; a link out of it would let it
    make the loaders read any file this user can read (an SSH key, a token) and show it to an
    agent as a log. Links that stay inside the data directory are fine.
    """
    target = outside_of(path, root)
    if target is not None:
        raise DataError(path, f"refused: it is, or lies under, a symbolic link to {target}, outside the "
                              f"data directory {root.resolve()}; a link out of the data directory could make the "
                              "loader read (and show an agent) any file on this machine; expected a "
                              "file inside the data directory: copy the file in instead of linking it")


def is_present(path: Path) -> bool:
    """Whether anything, even a dangling symbolic link, is at ``path``: a file that is there but
    broken must be reported, never skipped as if it were absent."""
    return os.path.lexists(path)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "a directory"
    if path.is_fifo():
        return "a named pipe (FIFO)"
    if path.is_socket():
        return "a socket"
    if path.is_block_device() or path.is_char_device():
        return "a device"
    return "something that is not a regular file"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _check_line_endings(path: Path, data: bytes) -> None:
    """One line ending throughout, LF or CRLF: a bare CR would end a CSV row mid-line (and
    join two HDFS sessions into one), and a mix means a file spliced from pieces."""
    crlf = data.count(b"\r\n")
    if data.count(b"\r") != crlf:
        at = data.find(b"\r")
        while data.startswith(b"\r\n", at):
            at = data.find(b"\r", at + 2)
        raise DataError(path, f"a carriage return (CR) not followed by a line feed, at byte {at}; expected "
                              "lines ending in LF or CRLF (old Mac line endings, or a stray CR inside a line?)",
                        line=_line_of(data, at))
    if crlf and crlf != data.count(b"\n"):
        at = data.find(b"\n")
        first_is_crlf = data[at - 1:at] == b"\r"
        while (data[at - 1:at] == b"\r") == first_is_crlf:
            at = data.find(b"\n", at + 1)
        found, expected = ("CRLF", "LF") if not first_is_crlf else ("LF", "CRLF")
        raise DataError(path, f"this line ends in {found}, while line 1 ends in {expected}; expected one line "
                              "ending throughout the file (was it spliced from files saved differently?)",
                        line=_line_of(data, at))


def read_text(path: Path, root: Path) -> str:
    """The text of the UTF-8 file ``path`` inside the data directory ``root``.

    Whatever is not plain UTF-8 text with one kind of line ending is a ``DataError`` naming the
    file, the line and what was expected: a missing file, a directory or other non-file, a
    symbolic link out of ``root``, a byte-order mark (UTF-8 or UTF-16), NUL bytes, bytes that
    are not UTF-8 (Latin-1, say), a bare CR, or LF and CRLF mixed.
    """
    check_inside(path, root)
    if not path.is_file():
        if path.is_symlink():
            raise DataError(path, f"a symbolic link to {path.resolve()}, which does not exist; expected a file")
        if not path.exists():
            raise DataError(path, "file not found; expected this file of the data set (fetch it with "
                                  "`rlog data download`, or point data_dir at a complete copy)")
        raise DataError(path, f"expected a file, found {_kind(path)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc}); expected a readable file") from None
    if data.startswith(codecs.BOM_UTF8):
        raise DataError(path, "starts with a UTF-8 byte-order mark (BOM); expected UTF-8 without one, as "
                              "upstream ships it (save the file again without the BOM)", line=1)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(path, "is UTF-16 text (it starts with a UTF-16 byte-order mark); expected UTF-8 "
                              "(convert it, e.g. with iconv -f UTF-16 -t UTF-8)", line=1)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError(path, f"a NUL byte at byte {nul}; expected text without NUL bytes (a file zero-filled "
                              "by a crash, or UTF-16 text without a byte-order mark?)", line=_line_of(data, nul))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(path, f"not valid UTF-8 at byte {exc.start} (column {column}): {exc.reason}; "
                              "expected UTF-8 text (was the file saved as Latin-1 or Windows-1252?)",
                        line=_line_of(data, exc.start)) from None
    if b"\r" in data:  # an LF-only file (the common case) needs no further look
        _check_line_endings(path, data)
    return text


def read_lines(path: Path, root: Path, expected: str) -> list[str]:
    """The lines of a plain text file (without their LF or CRLF), checked like :func:`read_text`;
    an empty file or a line over :data:`MAX_LINE_CHARS` is a ``DataError``. ``expected`` says
    what one line should hold, for the messages."""
    text = read_text(path, root)
    if not text:
        raise DataError(path, f"empty file; expected {expected}, one per line", line=1)
    # Split on "\n" only: str.splitlines would also break at \x0b, \x1c or U+2028 inside a line
    # and shift every later line against its number.
    lines = text.replace("\r\n", "\n").split("\n") if "\r" in text else text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:
        number = next(i for i, line in enumerate(lines, start=1) if len(line) > MAX_LINE_CHARS)
        raise DataError(path, f"a line of {len(lines[number - 1])} characters; expected {expected} of at most "
                              f"{MAX_LINE_CHARS} (a lost line break, or binary data?)", line=number)
    return lines


def read_csv(path: Path, root: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` from a UTF-8 CSV file in the data directory ``root``.

    Besides what :func:`read_text` checks, the header must name every ``required`` column, each
    column once; every row must have the header's width, sit on one line (a quoted field running
    over lines means an unclosed or stray quote) and end with a line break (a file that ends
    mid-row was cut off); and at least one row must follow the header. (A header repeated as a
    row, as when two files are joined, fails the caller's check of the first column's value.)
    A ``DataError`` names the file, the line and what was expected.
    """
    text = read_text(path, root)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(path, f"empty file; expected a CSV header with {', '.join(required)}", line=1) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(path, f"header lacks column(s) {', '.join(missing)}; expected "
                                  f"{', '.join(required)}, found {', '.join(header)}", line=1)
        if len(set(header)) != len(header):
            twice = sorted({c for c in header if header.count(c) > 1})
            raise DataError(path, f"column(s) {', '.join(twice)} appear more than once in the header; "
                                  "expected each column once", line=1)
        last, row, width = 1, header, len(header)
        for row in reader:
            last += 1
            if reader.line_num != last or len(row) != width:  # one test per row: this loop is hot
                if reader.line_num != last:
                    raise DataError(path, f"a quoted field runs on from this line to line {reader.line_num}; "
                                          "expected one row per line (an unclosed or stray double quote?)",
                                    line=last)
                raise DataError(path, f"expected {width} fields as in the header, found {len(row)}", line=last)
            yield last, dict(zip(header, row))
    except csv.Error as exc:
        problem = str(exc)
        if "field limit" in problem:
            problem = (f"a field longer than {csv.field_size_limit()} characters; expected log-sized fields "
                       "(a lost line break, or an unclosed double quote?)")
        else:
            problem = f"malformed CSV ({problem}); expected comma-separated fields, quoted with double quotes"
        raise DataError(path, problem, line=reader.line_num) from None
    if last == 1:
        raise DataError(path, f"no rows after the header; expected at least one row of "
                              f"{', '.join(required)}", line=2)
    if any("\n" in field or "\r" in field for field in row):
        raise DataError(path, "a double quote opened on this line is never closed; expected one row per "
                              "line, with every quoted field closed", line=last)
    if not text.endswith("\n"):
        raise DataError(path, "the last row does not end with a line break; expected every row to end "
                              "with one (the file looks cut off mid-row)", line=last)


@dataclass(frozen=True)
class FiniteSource:
    """A finite, indexed list of samples of one task and split (a real data set).

    ``source[i]`` is sample ``i``; ``len(source)`` the split's size. Each sample's ``meta``
    carries ``source``, ``split`` and ``index``. ``absent`` names the domains the source's split
    names but the data directory lacks (LogHub's held-out systems under ``protocol="unseen"``):
    reported beside the results, not an error.
    """

    name: str
    task: str
    split: str
    samples: tuple[Sample, ...]
    description: str = ""
    absent: tuple[str, ...] = ()
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
