"""The results store of an evaluation run: one JSON line per episode, safe to interrupt.

A run directory holds ``config.json`` (the full configuration, the package version and a hash
of the evaluation samples) and ``results.jsonl``. Each episode is appended as one line and
flushed, so a run killed at any point loses at most the lines being written:

- a **torn last line** (a kill mid-write: a prefix of a record, maybe cut inside a UTF-8
  character, or garbage bytes a crashed file system left at the end) has no newline;
  :func:`read_results` ignores it and :func:`repair` truncates it away, so the episode is redone;
- a resumed run skips every episode already recorded, so nothing is counted twice; and one
  process at a time writes a run (an exclusive ``flock`` on ``results.jsonl``, released by the
  kernel when the process dies, even by SIGKILL), so two runs cannot record the same episodes.

What is recorded is kept as an :class:`EpisodeSet`: per (agent, environment), the recorded
sample indices as runs of consecutive indices. The runner writes each environment's episodes in
index order, so a run of any length (resumed or not) costs a few intervals per cell, not a key
per episode.

Results files are data handed around (submitted runs): they are read as JSON only, never
unpickled or evaluated, and every record is checked before anything uses it. A complete line
that is not a valid episode record, or an episode recorded twice, is an error naming the file,
the line and what was expected; nothing is silently skipped.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator

try:  # POSIX; elsewhere runs are not locked (one writer per run directory is then up to the user)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from rlog_env.tasks import INVESTIGATIONS, TASKS

RESULTS = "results.jsonl"
CONFIG = "config.json"

# The JSON types of an episode record's fields (what the runner writes). The required ones
# identify the episode and are what the leaderboard reads; the others are checked when
# present. Fields not listed are kept as data and never interpreted.
_REQUIRED = {"agent": str, "env": str, "task": str, "index": int, "reward": dict, "source": str,
             "domain": str, "unseen": bool, "reasoning": str, "parsed_answer": (str, type(None)),
             "reference": str, "metrics": dict, "latency_s": (int, float)}
_OPTIONAL = {"split": str, "observation": str, "answer": str, "usage": (dict, type(None)),
             "error": (str, type(None)), "turns": list, "return": (int, float), "category": str,
             "env_s": (int, float), "finish_reason": str}
_TYPE_NAMES = {str: "a string", int: "an integer", dict: "an object", bool: "true or false",
               (str, type(None)): "a string or null", (int, float): "a number",
               (dict, type(None)): "an object or null", list: "a list"}
_TAIL_CHUNK = 1 << 16


class RunInUse(ValueError):
    """Another process is writing the run directory."""


def episode_key(record: dict[str, Any]) -> tuple[str, str, int]:
    """What identifies an episode within a run: (agent, environment, sample index)."""
    return record["agent"], record["env"], int(record["index"])


class IndexSet:
    """A set of non-negative integers kept as sorted, disjoint runs ``[start, end)``: indices
    added in order (``0, 1, 2, ...``, as the runner writes them) cost one run, whatever their
    number; memory follows the number of gaps, never the number of indices."""

    __slots__ = ("_starts", "_ends", "_count")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, index: int) -> bool:
        at = bisect.bisect_right(self._starts, index) - 1
        return at >= 0 and index < self._ends[at]

    def add(self, index: int) -> bool:
        """Add ``index``; False (and nothing changes) when it is already in the set."""
        starts, ends = self._starts, self._ends
        at = bisect.bisect_right(starts, index) - 1  # the last run starting at or before index
        if at >= 0 and index < ends[at]:
            return False
        joins_left = at >= 0 and ends[at] == index
        joins_right = at + 1 < len(starts) and starts[at + 1] == index + 1
        if joins_left and joins_right:  # fills the gap between two runs
            ends[at] = ends[at + 1]
            del starts[at + 1], ends[at + 1]
        elif joins_left:
            ends[at] = index + 1
        elif joins_right:
            starts[at + 1] = index
        else:
            starts.insert(at + 1, index)
            ends.insert(at + 1, index + 1)
        self._count += 1
        return True

    @property
    def runs(self) -> int:
        """How many runs of consecutive indices the set holds (what its memory follows)."""
        return len(self._starts)


class EpisodeSet:
    """The episodes of a run, by :func:`episode_key`: per (agent, environment) an
    :class:`IndexSet` of sample indices (see the module docstring)."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, str], IndexSet] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: tuple[str, str, int]) -> bool:
        agent, env, index = key
        cell = self._cells.get((agent, env))
        return cell is not None and index in cell

    def add(self, key: tuple[str, str, int]) -> bool:
        """Add an episode; False when it is already in the set."""
        agent, env, index = key
        cell = self._cells.get((agent, env))
        if cell is None:
            cell = self._cells[(agent, env)] = IndexSet()
        if cell.add(index):
            self._count += 1
            return True
        return False

    @property
    def runs(self) -> int:
        """The runs of consecutive indices over all cells (what the memory follows)."""
        return sum(cell.runs for cell in self._cells.values())


def drop_failed(run_dir: Path) -> int:
    """Remove the records of failed episodes (``error`` set) from ``results.jsonl``, so that a
    resumed run plays them again; return how many. The kept lines are written, byte for byte, to
    a file beside it, made durable and renamed over it: a kill leaves the old file or the new
    one, never half of either. Call it holding the run's lock (:class:`ResultsWriter`), and open
    a new writer afterwards (the old one's file was replaced)."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return 0
    tmp = path.with_name(RESULTS + ".retry")
    failed = 0
    try:
        with path.open("rb") as source, tmp.open("wb") as kept:
            for number, raw in enumerate(source, start=1):
                if not raw.endswith(b"\n"):
                    break  # a torn last line (the writer repairs it): the episode runs again anyway
                record = _parse_line(path, number, raw)
                if isinstance(record, dict) and record.get("error") is not None:
                    failed += 1
                    continue
                kept.write(raw)
            kept.flush()
            os.fsync(kept.fileno())
        if failed:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return failed


def recorded_episodes(run_dir: Path) -> EpisodeSet:
    """The episodes ``results.jsonl`` of a run records (each checked, as :func:`read_results`)."""
    done = EpisodeSet()
    for record in read_results(run_dir):
        done.add(episode_key(record))
    return done


def _torn_tail(fd: int) -> tuple[int, int]:
    """``(size, keep)`` of the open file ``fd``: its size, and the length of its complete lines
    (everything up to and including the last newline). Reads backwards from the end, so a
    large results file costs one chunk or two."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return size, start + newline + 1
        end = start
    return size, 0


def _truncate_torn_tail(fd: int) -> int:
    size, keep = _torn_tail(fd)
    if keep < size:
        os.ftruncate(fd, keep)
    return size - keep


def repair(run_dir: Path) -> int:
    """Truncate a torn last line of ``results.jsonl`` (a run killed mid-write: a cut record,
    a cut UTF-8 character, trailing garbage without a newline); return the bytes removed."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return 0
    _check_regular(path)
    fd = os.open(path, os.O_RDWR)
    try:
        return _truncate_torn_tail(fd)
    finally:
        os.close(fd)


def _check_regular(path: Path) -> None:
    # A device, FIFO or directory where the results should be (a submitted run may hold
    # anything): reading /dev/zero or a FIFO would never end.
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file; expected the JSON-lines results of a run")


def _fail(path: Path, number: int, problem: str) -> ValueError:
    return ValueError(f"{path}, line {number}: {problem}; expected one JSON episode record per line "
                      "as `rlog eval` writes them (the file was edited, corrupted or written by "
                      "another program)")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_record(record: Any, path: Path, number: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _fail(path, number, f"a JSON {type(record).__name__}, not an object")
    for fields, required in ((_REQUIRED, True), (_OPTIONAL, False)):
        for name, kind in fields.items():
            if name not in record:
                if required:
                    raise _fail(path, number, f"no field {name!r}")
                continue
            value = record[name]
            # bool is an int in Python; an index or a latency of `true` is still wrong.
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise _fail(path, number, f"field {name!r} expects {_TYPE_NAMES[kind]}, "
                                          f"got {json.dumps(value, default=str)[:60]}")
    if record["task"] not in TASKS and record["task"] not in INVESTIGATIONS:
        raise _fail(path, number, f"field 'task' expects one of {', '.join([*TASKS, *INVESTIGATIONS])}, "
                                  f"got {record['task'][:60]!r}")
    if record["index"] < 0:
        raise _fail(path, number, f"field 'index' expects a sample index >= 0, got {record['index']}")
    total = record["reward"].get("total")
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not math.isfinite(total):
        raise _fail(path, number, f"field 'reward' expects an object with a finite number 'total', "
                                  f"got {json.dumps(record['reward'], default=str)[:60]}")
    if "return" in record and not math.isfinite(record["return"]):
        raise _fail(path, number, f"field 'return' expects a finite number, got {record['return']}")
    for turn in record.get("turns", ()):
        if not (isinstance(turn, dict) and isinstance(turn.get("completion"), str)
                and isinstance(turn.get("reward"), (int, float)) and not isinstance(turn.get("reward"), bool)):
            raise _fail(path, number, "field 'turns' expects objects with a string 'completion' and a number "
                                      f"'reward', got {json.dumps(turn, default=str)[:60]}")
    latency = record["latency_s"]
    if not math.isfinite(latency) or latency < 0:
        raise _fail(path, number, f"field 'latency_s' expects a finite number >= 0, got {latency}")
    return record


def read_results(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Every complete episode record of a run, in the order written, each checked (see the
    module docstring); a torn last line is left out (the episode is redone on resume)."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return
    _check_regular(path)
    # The episodes seen so far, as runs of indices (a few per cell, not one entry per episode):
    # reading 100,000 records holds no more than reading 1,000.
    seen = EpisodeSet()
    for number, record in _records(path):
        key = episode_key(_check_record(record, path, number))
        if not seen.add(key):
            first = next(n for n, r in _records(path) if episode_key(r) == key)
            raise _fail(path, number, f"episode {key} is recorded a second time (first at line "
                                      f"{first}); an episode counts once")
        yield record


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of each complete line of ``path``; a torn last line ends it."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # a torn last line: the episode is redone on resume
            yield number, _parse_line(path, number, raw)


def _parse_line(path: Path, number: int, raw: bytes) -> Any:
    """One complete line of ``results.jsonl`` as JSON, or an error naming the file and line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, number, f"not UTF-8 text (byte {exc.start} of the line)") from None
    try:
        # NaN and Infinity are not JSON; the writer never writes them.
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _fail(path, number, f"not a JSON episode record ({getattr(exc, 'msg', exc)})") from None


def read_header(run_dir: Path) -> dict[str, Any]:
    """The ``config.json`` of a run: its configuration, version and samples hash."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {run_dir} is not a run directory of `rlog eval`")
    try:
        header = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a JSON run configuration ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(header, dict) or not isinstance(header.get("config"), dict):
        raise ValueError(f"{path}: expected an object with a 'config' object, as `rlog eval` writes it")
    return header


def _encode(record: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # An answer may hold anything, lone surrogates too (not encodable as UTF-8): escaped,
        # the record reads back exactly.
        return (json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


class ResultsWriter:
    """Appends episode records to ``results.jsonl``, one flushed line each; holds the run's
    lock (:class:`RunInUse` when another process has it) and repairs a torn last line first."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RESULTS
        if self.path.exists():
            _check_regular(self.path)
        handle = self.path.open("a+b")  # read too: the torn tail is found by reading
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RunInUse(f"{self.path} is being written by another process (an `rlog eval` "
                                   "of the same run directory); wait for it to end, or pass another "
                                   "run directory") from None
            # Only under the lock: a live writer's line in progress is not torn.
            self.repaired = _truncate_torn_tail(handle.fileno())
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append a batch of records and make them durable (one fsync per batch)."""
        self._handle.write(b"".join(_encode(r) for r in records))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()  # releases the lock

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_frame(run_dirs):
    """The episodes of one or more runs as a pandas DataFrame, every field (for analysis: the
    leaderboard streams the records instead, see :mod:`rlog_env.leaderboard.aggregate`)."""
    import pandas as pd

    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    rows = [record for run in run_dirs for record in read_results(Path(run))]
    try:
        return pd.DataFrame(rows)
    except UnicodeEncodeError:
        # A lone surrogate (an agent may answer anything) does not fit pandas' Arrow strings:
        # the columns that hold one stay Python objects, the others get their usual types.
        frame = pd.DataFrame(rows, dtype=object)
        for column in frame.columns:
            try:
                frame[column] = frame[column].infer_objects()
            except UnicodeEncodeError:
                pass
        return frame
