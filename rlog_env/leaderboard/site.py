"""The leaderboard as a web page: a static site to look at, built from a board and its episodes.

``rlog leaderboard RUN... --html DIR`` (and ``rlog eval --html DIR``) write into ``DIR``:

- ``index.html``: the page, with the overview's data embedded (the board of
  :mod:`rlog_env.leaderboard.aggregate`, each agent's totals and the radar's values from
  :mod:`rlog_env.leaderboard.tables`: nothing is computed twice) as a
  ``<script type="application/json">`` block, so the overview shows at once;
- ``site.js`` and ``site.css`` (package data in ``site_assets/``): plain JavaScript, no
  framework, no network: the page opens from disk (``file://``) and can be published as it is;
- ``episodes/index-NNNN.js``: a compact summary of :data:`INDEX_EPISODES` episodes a file (agent,
  environment, domain, split, seen/unseen, score, turns), what the episode browser filters on,
  loaded one file after the other once the overview is drawn;
- ``episodes/chunk-NNNN.js``: the episodes themselves (prompt, answer, reference, reward parts,
  the turns of a transcript), up to :data:`CHUNK_EPISODES` or about :data:`CHUNK_BYTES` a file,
  loaded only when one of their episodes is opened.

A page opened from ``file://`` may not ``fetch`` files beside it, so each data file is a script
that hands its JSON to a function of ``site.js`` (``rlogIndex(n, {...})``,
``rlogChunk(n, [...])``), loaded by a ``<script src>`` element.

Everything in a run is untrusted (submitted runs): every string of it is JSON here, with ``<``,
``>`` and ``&`` written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` and every non-ASCII character
escaped (so no ``</script>`` or line separator can end a block or a statement), and ``site.js``
puts it into the page as text (``textContent``, text nodes), never as markup. The page's
Content-Security-Policy allows only the scripts beside it: no inline script, no other origin.

The site is built in a new directory beside ``DIR`` and renamed into place; ``DIR`` may be new,
empty, or a site written before (it is replaced; it carries :data:`MARKER`); anything else is
refused, never overwritten.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rlog_env._version import __version__
from rlog_env.leaderboard.aggregate import episode_score, task_columns
from rlog_env.leaderboard.tables import RADAR_SCALE, RADAR_TITLE, agent_totals, radar_values
from rlog_env.tasks import INVESTIGATIONS, TASKS

MARKER = ".rlog-site"  # in every site this module writes: the directory may be replaced
ASSETS = ("site.js", "site.css")  # copied from site_assets/ beside index.html
CHUNK_EPISODES = 500  # episodes a chunk file holds at most ...
CHUNK_BYTES = 1 << 20  # ... and about this many bytes (one larger episode gets a chunk of its own)
INDEX_EPISODES = 10_000  # episodes an index file summarises
# The fields of a record that the page shows; any other field of a (submitted) record is left out.
EPISODE_FIELDS = ("agent", "env", "task", "source", "split", "index", "id", "domain", "unseen", "category",
                  "reasoning", "observation", "answer", "parsed_answer", "reference", "reward", "return",
                  "metrics", "turns", "latency_s", "env_s", "usage", "error", "finish_reason")
# The summary of an episode in an index file, one list per column (codes index the lists named
# in the overview's "episodes" entry).
INDEX_COLUMNS = ("agent", "task", "domain", "split", "unseen", "score", "sample", "chunk", "turns", "flags")
FLAG_WELL_FORMED, FLAG_ERROR = 1, 2


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` block and as a JavaScript
    expression: ASCII only (every other character, U+2028 and U+2029 too, as ``\\uXXXX``), and
    ``<``, ``>``, ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026`` so that no ``</script>`` or
    ``<!--`` can appear in it. ``JSON.parse`` reads it back unchanged. Non-finite numbers
    (which JSON lacks) are written as the strings ``"Infinity"``, ``"-Infinity"``, ``"NaN"``."""
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except ValueError:  # an infinity or NaN somewhere: written as text
        text = json.dumps(_finite(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -- where the site goes ----------------------------------------------------------------------
def check_target(out_dir: str | Path) -> Path:
    """The directory a site may be written to: ``out_dir`` when it is new, empty, or a site
    written before; a ``ValueError`` saying what is wrong and what to do otherwise. Call it
    before a long evaluation, so that a bad ``--html`` fails at once."""
    target = Path(out_dir)
    if target.is_symlink():
        raise ValueError(f"--html {out_dir}: a symbolic link; the site is built beside it and renamed into "
                         "place, never written through a link: name the real directory")
    if target.exists():
        if not target.is_dir():
            raise ValueError(f"--html {out_dir}: exists and is not a directory; name a new directory")
        if not (target / MARKER).is_file() and any(target.iterdir()):
            raise ValueError(f"--html {out_dir}: the directory holds files and is not a site rlog wrote (no "
                             f"{MARKER} in it); name a new or empty directory, or an earlier site to replace")
    return target


def _swap(built: Path, target: Path) -> None:
    """Put the finished directory ``built`` at ``target`` (new, empty, or an earlier site)."""
    check_target(target)  # again: it may have changed while the site was built
    if not target.exists():
        os.rename(built, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    _remove(old)
    os.rename(target, old)
    try:
        os.rename(built, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


# -- the episodes -----------------------------------------------------------------------------
class _Codes:
    """Values numbered in the order they first appear (an index file stores the numbers)."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}

    def __call__(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.codes)
        return code

    def values(self) -> list:
        return list(self.codes)


class _EpisodeFiles:
    """Writes the episodes of a stream of records into ``episodes/`` as chunk and index files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.codes = {name: _Codes() for name in ("agent", "task", "domain", "split")}
        self.columns: dict[str, list] = {name: [] for name in INDEX_COLUMNS}
        self.chunk: list[str] = []
        self.chunk_bytes = 0
        self.chunks = 0  # chunk files begun
        self.index_files = 0
        self.count = 0

    def add(self, record: Mapping[str, Any]) -> None:
        text = script_json({k: record[k] for k in EPISODE_FIELDS if k in record})
        if self.chunk and (len(self.chunk) >= CHUNK_EPISODES or self.chunk_bytes + len(text) > CHUNK_BYTES):
            self._flush_chunk()
        if not self.chunk:
            self.chunks += 1
        self.chunk.append(text)
        self.chunk_bytes += len(text) + 1
        metrics = record.get("metrics") or {}
        turns = record.get("turns")
        row = (self.codes["agent"](str(record["agent"])), self.codes["task"](str(record["task"])),
               self.codes["domain"](str(record["domain"])), self.codes["split"](str(record.get("split", ""))),
               int(bool(record.get("unseen"))), round(episode_score(record), 6), int(record["index"]),
               self.chunks - 1, len(turns) if isinstance(turns, list) and turns else 1,
               (FLAG_WELL_FORMED if metrics.get("well_formed") else 0) | (FLAG_ERROR if record.get("error") else 0))
        for name, value in zip(INDEX_COLUMNS, row):
            self.columns[name].append(value)
        self.count += 1
        if len(self.columns["agent"]) == INDEX_EPISODES:
            self._flush_index()

    def close(self) -> dict[str, Any]:
        """Write what is left; the episodes' entry of the overview's data."""
        if self.chunk:
            self._flush_chunk()
        if self.columns["agent"]:
            self._flush_index()
        # Nothing here grows with the episodes but the lists of names (the page finds where each
        # chunk starts from the index files: an episode's chunk number never decreases).
        return {"count": self.count, "per_index": INDEX_EPISODES, "index_files": self.index_files,
                "chunk_files": self.chunks,
                **{f"{name}s": codes.values() for name, codes in self.codes.items()}}

    def _flush_chunk(self) -> None:
        number = self.chunks - 1
        body = f"rlogChunk({number},[" + ",\n".join(self.chunk) + "]);\n"
        (self.folder / f"chunk-{number:04d}.js").write_text(body, encoding="ascii")
        self.chunk, self.chunk_bytes = [], 0

    def _flush_index(self) -> None:
        body = f"rlogIndex({self.index_files}," + script_json(self.columns) + ");\n"
        (self.folder / f"index-{self.index_files:04d}.js").write_text(body, encoding="ascii")
        self.index_files += 1
        self.columns = {name: [] for name in INDEX_COLUMNS}


# -- the overview -----------------------------------------------------------------------------
def overview(board: Mapping[str, Any], episodes: Mapping[str, Any], title: str = "rlog leaderboard",
             runs: Sequence[str] = ()) -> dict[str, Any]:
    """The data ``index.html`` embeds: the board as it is, each row's totals, the radar's values
    and scale, each column's task, environment and kind, and the episodes' entry
    (:meth:`_EpisodeFiles.close`: counts, files, the lists the index files' codes refer to)."""
    tasks = list(episodes.get("tasks", ()))
    of_task = task_columns(tasks)  # the board's own naming of the columns
    task_of = {column: task for task, column in of_task.items()}
    columns = []
    for column in board["tasks"]:
        task = task_of.get(column, column)
        cls = TASKS.get(task) or INVESTIGATIONS.get(task)
        columns.append({"name": column, "task": task, "env": getattr(cls, "env_id", None),
                        "kind": getattr(cls, "kind", None)})
    return {
        "title": title, "generator": f"rlog_env {__version__}", "runs": list(runs),
        "board": board,
        "totals": [agent_totals(row) for row in board["rows"]],
        "columns": columns,
        "radar": {"title": RADAR_TITLE, "scale": RADAR_SCALE,
                  "values": radar_values(board) if board["rows"] else []},
        "episodes": {**episodes, "columns": [of_task.get(t, t) for t in tasks]},
    }


def _asset(name: str) -> str:
    return resources.files("rlog_env.leaderboard").joinpath("site_assets", name).read_text(encoding="utf-8")


def page(data: Mapping[str, Any]) -> str:
    """``index.html`` with ``data`` (:func:`overview`) embedded."""
    head, rest = _asset("index.html").split("__TITLE__", 1)
    middle, tail = rest.split("__DATA__", 1)
    return head + html.escape(str(data["title"])) + middle + script_json(data) + tail


# -- the site ---------------------------------------------------------------------------------
def write(board: Mapping[str, Any], records: Iterable[Mapping[str, Any]], out_dir: str | Path, *,
          title: str = "rlog leaderboard", runs: Sequence[str] = ()) -> Path:
    """Write the site of ``board`` (:func:`rlog_env.leaderboard.tables.leaderboard`) and of the
    episode ``records`` it was gathered from (streamed: :func:`~rlog_env.leaderboard.results.
    read_results`; one record in memory at a time, beside a chunk being written) into
    ``out_dir`` (see :func:`check_target`); return the path of its ``index.html``."""
    target = check_target(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    built = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    _remove(built)
    built.mkdir()
    try:
        (built / "episodes").mkdir()
        files = _EpisodeFiles(built / "episodes")
        for record in records:
            files.add(record)
        data = overview(board, files.close(), title=title, runs=runs)
        for name in ASSETS:
            (built / name).write_text(_asset(name), encoding="utf-8")
        (built / "index.html").write_text(page(data), encoding="ascii")
        (built / ".nojekyll").write_text("")  # GitHub Pages: publish the files as they are
        (built / MARKER).write_text(json.dumps({"generator": "rlog_env", "version": __version__}) + "\n")
        _swap(built, target)
    except BaseException:
        _remove(built)
        raise
    return target / "index.html"


__all__ = ["ASSETS", "CHUNK_BYTES", "CHUNK_EPISODES", "EPISODE_FIELDS", "INDEX_EPISODES", "MARKER",
           "check_target", "overview", "page", "script_json", "write"]
