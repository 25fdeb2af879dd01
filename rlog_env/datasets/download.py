"""Fetch the public data sets from upstream and prove what was fetched.

The package carries ``manifest.tsv``: every upstream file of the data sets ``loghub``,
``loglm`` and ``hdfs`` with its path in a data directory (laid out like shared/data), its
size, its sha256, and the upstream repository, commit and path it comes from. ``download``
fetches each file of a data set from ``{base_url}/{repo}/{commit}/{path}`` (GitHub's raw file
host by default) and keeps it only when its size and sha256 match the manifest::

    from rlog_env.datasets.download import download, verify, LICENCES
    report = download("loghub", "~/rlog-data")      # DownloadReport
    verify("loghub", "~/rlog-data")                 # [] when every file is present and intact

How a file is fetched, so that nothing partial or corrupt ever passes as good:

- A file already present with the manifest's sha256 is not fetched again (``verified``); one
  with any other content is fetched again, never trusted.
- The body streams into a hidden temporary file in the destination's directory
  (``.<name>.<random>.part``), hashed on the way; only when byte count and sha256 match does
  ``os.replace`` move it into place, atomically. On any failure the temporary file is deleted.
- A file present that fails verification is removed before it is fetched again, so no reader
  finds corrupt data where good data should be, even if the fetch fails or is killed.
- Connection errors, timeouts (a stalled server: ``timeout`` bounds every socket operation),
  truncated bodies and HTTP 408/429/5xx are retried ``retries`` times with exponential backoff;
  a missing file (HTTP 404), a wrong size or a wrong sha256 are not.
- Every file of the data set is attempted; if any failed, one :class:`DownloadError` lists them
  all (``.errors`` holds one error per file) after the others were fetched. Run again to retry:
  files already good are only re-hashed.
- There is no resume: every attempt, retry or re-run fetches a file from its first byte (the
  files are small, and a spliced body could only fail its sha256). A download killed outright
  (SIGKILL, power loss) leaves nothing at the final path, only its hidden part file; the next
  run deletes part files that no live download holds (each holds a ``flock`` on its own).
- The manifest pins every file: a sha256, a byte count and a full 40-digit commit id; a row
  lacking any of them is a :class:`~rlog_env.datasets.base.DataError` before anything is fetched.
- Symbolic links out of the data directory are never trusted, as the sources never read them:
  a file linked out is fetched again and replaces the link; a folder linked out is refused.

The base URL is, in order: the ``base_url`` argument, ``$RLOG_DOWNLOAD_BASE_URL``, then
``https://raw.githubusercontent.com``. Any mirror laid out as ``/{repo}/{commit}/{path}``
works, over ``http``, ``https`` or ``file``.

Standard library only; nothing here imports Gymnasium or torch.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import http.client
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

from rlog_env.datasets.base import DataError, outside_of, read_text

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so stale part files are left alone
    fcntl = None

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
BASE_URL_ENV = "RLOG_DOWNLOAD_BASE_URL"
MANIFEST_RESOURCE = "manifest.tsv"
USER_AGENT = "rlog_env-downloader/0.1"
CHUNK_SIZE = 1 << 16
PART_SUFFIX = ".part"
_RETRY_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
_MANIFEST_COLUMNS = ("path", "sha256", "bytes", "upstream_repo", "upstream_commit", "upstream_path")


# --------------------------------------------------------------------------------------------
# The manifest


@dataclass(frozen=True)
class ManifestEntry:
    """One upstream file: where it goes (``path``, relative to the data directory, ``/``-separated),
    what it must be (``sha256``, ``size`` in bytes) and where it comes from."""

    path: str
    sha256: str
    size: int
    repo: str
    commit: str
    upstream_path: str

    def url(self, base_url: str | None = None) -> str:
        """The file's URL under ``base_url`` (default: see :func:`resolve_base_url`)."""
        base = resolve_base_url(base_url)
        return f"{base}/{self.repo}/{self.commit}/{urllib.parse.quote(self.upstream_path)}"

    def destination(self, root: os.PathLike | str) -> Path:
        """Where the file lives under the data directory ``root``."""
        return Path(root).joinpath(*self.path.split("/"))


_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")  # a full commit id: a branch or tag name could move
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_BYTES = re.compile(r"[0-9]+")  # not str.isdigit, which takes "²" and other non-ASCII digits


def _relative_parts_ok(path: str) -> bool:
    return not path.startswith("/") and "\\" not in path and all(p not in ("", ".", "..") for p in path.split("/"))


def _parse_manifest(text: str, origin: os.PathLike | str) -> tuple[ManifestEntry, ...]:
    """The rows of a manifest TSV; a malformed row is a ``DataError`` naming its line and what
    was expected. Every row pins its file: a sha256, a byte count and a full commit id."""
    entries: list[ManifestEntry] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != len(_MANIFEST_COLUMNS):
            raise DataError(origin, f"expected {len(_MANIFEST_COLUMNS)} tab-separated fields "
                                    f"({', '.join(_MANIFEST_COLUMNS)}), found {len(fields)}", line=number)
        path, sha, size, repo, commit, upstream = fields
        if not _relative_parts_ok(path):
            raise DataError(origin, f"expected a relative path without '.' or '..' parts, found {path!r}", line=number)
        if not _SHA256.fullmatch(sha):
            raise DataError(origin, f"expected a lowercase hex sha256 (64 digits), found {sha!r}; a file "
                                    "without its checksum could never be verified", line=number)
        if not _BYTES.fullmatch(size):
            raise DataError(origin, f"expected a byte count, found {size!r}", line=number)
        if not _REPO.fullmatch(repo):
            raise DataError(origin, f"expected an upstream repository as owner/name, found {repo!r}", line=number)
        if not _COMMIT.fullmatch(commit):
            raise DataError(origin, f"expected a full 40-digit lowercase hex commit id, found {commit!r}; a "
                                    "branch or tag name is not pinned (it can move)", line=number)
        if not _relative_parts_ok(upstream):
            raise DataError(origin, f"expected an upstream path without '.' or '..' parts, found {upstream!r}",
                            line=number)
        if path in seen:
            raise DataError(origin, f"path {path!r} is listed twice (first on line {seen[path]}); expected "
                                    "each path once", line=number)
        seen[path] = number
        entries.append(ManifestEntry(path, sha, int(size), repo, commit, upstream))
    return tuple(entries)


def read_manifest(path: os.PathLike | str) -> tuple[ManifestEntry, ...]:
    """The rows of the manifest TSV file ``path`` (a data directory's ``MANIFEST.tsv``, laid out
    like the packaged one), read with the same checks as the data: UTF-8 without BOM or NUL
    bytes, one line ending; a malformed row is a ``DataError`` naming its line."""
    path = Path(path)
    return _parse_manifest(read_text(path, path.parent), path)


@lru_cache(maxsize=None)
def manifest() -> tuple[ManifestEntry, ...]:
    """Every row of the manifest the package carries (``rlog_env/datasets/manifest.tsv``)."""
    resource = resources.files("rlog_env.datasets").joinpath(MANIFEST_RESOURCE)
    return _parse_manifest(resource.read_text(encoding="utf-8"), f"rlog_env/datasets/{MANIFEST_RESOURCE}")


# Which manifest rows make up each data set: folder prefixes, plus files of another folder
# placed under a second name. The HDFS session sequences (logdeep) are numbered by the
# *full-log* HDFS templates, which live in the LogHub repository; the `hdfs` source reads them
# as hdfs_anomaly/HDFS_templates.csv, where shared/data keeps a copy, and the loghub licence
# asks that its notice go with every copy (hdfs_anomaly/LICENSE_loghub in shared/data). These
# are fetched from logpai/loghub and verified against the manifest's loghub rows.
_DATASET_RULES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "loghub": (("loghub/", "loghub2_2k_corrected/", "loghub_2k_corrected/"), {}),
    "loglm": (("loglm/",), {}),
    "hdfs": (("hdfs_anomaly/",), {"hdfs_anomaly/HDFS_templates.csv": "loghub/HDFS/HDFS_templates.csv",
                                  "hdfs_anomaly/LICENSE_loghub": "loghub/LICENSE"}),
}


def _dataset_rows(prefixes: tuple[str, ...], aliases: dict[str, str]) -> tuple[ManifestEntry, ...]:
    rows = manifest()
    by_path = {e.path: e for e in rows}
    missing = [p for p in aliases.values() if p not in by_path]
    if missing:  # the packaged manifest and this module disagree: a packaging bug
        raise DataError(f"rlog_env/datasets/{MANIFEST_RESOURCE}", f"lacks row(s) {', '.join(missing)}")
    chosen = [e for e in rows if e.path.startswith(prefixes)]
    chosen += [replace(by_path[source], path=path) for path, source in aliases.items()]
    return tuple(chosen)


DATASETS: dict[str, tuple[ManifestEntry, ...]] = {
    name: _dataset_rows(prefixes, aliases) for name, (prefixes, aliases) in _DATASET_RULES.items()
}
"""Data set name -> the files it comprises: manifest rows, with ``path`` where the file goes.
For ``hdfs`` two of them are LogHub rows placed under hdfs_anomaly/ (see above)."""


class Licence(NamedTuple):
    """A data set's licence in one line, and the citation(s) it asks for."""

    summary: str
    citation: str


LICENCES: dict[str, Licence] = {
    "loghub": Licence(
        "LogHub licence: free for research or academic use, with attribution: point to "
        "https://github.com/logpai/loghub, cite the papers below, and keep the licence notice "
        "(loghub/LICENSE) with every copy. Not an OSI licence; commercial use is not explicitly granted.",
        "Zhu et al., \"Loghub: A Large Collection of System Log Datasets for AI-driven Log "
        "Analytics\", ISSRE 2023. For the corrected templates also: Jiang et al., \"A Large-scale "
        "Evaluation for Log Parsing Techniques: How Far are We?\", ISSTA 2024 (loghub2_2k_corrected/); "
        "Khan et al., \"Guidelines for Assessing the Accuracy of Log Message Template Identification "
        "Techniques\", ICSE 2022 (loghub_2k_corrected/).",
    ),
    "loglm": Licence(
        "Apache-2.0 (the lunyiliu/LogLM repository licence, loglm/LICENSE; no separate data licence).",
        "Liu et al., \"LogLM: From Task-based to Instruction-based Automated Log Analysis\", "
        "ICSE 2025 SEIP (arXiv:2410.09352).",
    ),
    "hdfs": Licence(
        "MIT (donglee-afar/logdeep, Copyright (c) 2020 donglee) for the session files; they derive "
        "from LogHub HDFS_v1, under the LogHub licence (research or academic use with attribution, "
        "notice in hdfs_anomaly/LICENSE_loghub), which also covers the HDFS templates. Attribute both.",
        "Xu et al., \"Detecting Large-Scale System Problems by Mining Console Logs\", SOSP 2009; "
        "Zhu et al., \"Loghub: A Large Collection of System Log Datasets for AI-driven Log "
        "Analytics\", ISSRE 2023.",
    ),
}


def resolve_base_url(base_url: str | None = None) -> str:
    """``base_url`` if given, else ``$RLOG_DOWNLOAD_BASE_URL``, else GitHub's raw file host;
    without a trailing slash. Only ``http``, ``https`` and ``file`` URLs are accepted."""
    chosen = base_url if base_url is not None else (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    scheme = urllib.parse.urlsplit(chosen).scheme
    if scheme not in ("http", "https", "file"):
        origin = "base_url" if base_url is not None else BASE_URL_ENV
        raise ValueError(f"{origin} expects an http, https or file URL of a mirror laid out as "
                         f"/{{repo}}/{{commit}}/{{path}} (default {DEFAULT_BASE_URL}), got {chosen!r}")
    return chosen.rstrip("/")


def dataset_files(name: str, files: Iterable[str] | str | None = None) -> tuple[ManifestEntry, ...]:
    """The manifest rows of data set ``name``, or only those matching ``files``: manifest paths
    or shell-style patterns (``"loghub/HDFS/*"``), each of which must match some row."""
    if name not in DATASETS:
        raise ValueError(f"data set expects one of {', '.join(DATASETS)}, got {name!r}")
    rows = DATASETS[name]
    if files is None:
        return rows
    patterns = [files] if isinstance(files, str) else list(files)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(e.path, p) for e in rows)]
    if unmatched or not patterns:
        raise ValueError(f"files expects manifest paths or patterns of data set {name!r} "
                         f"(e.g. {rows[0].path!r}); got {'no patterns' if not patterns else 'unmatched ' + ', '.join(map(repr, unmatched))}")
    return tuple(e for e in rows if any(fnmatch.fnmatchcase(e.path, p) for p in patterns))


# --------------------------------------------------------------------------------------------
# Errors and reports


class DownloadError(DataError):
    """A file could not be fetched, or what was fetched is not what the manifest lists.

    ``path`` is the destination (or the data directory, for the summary error that
    :func:`download` raises), ``url`` the source, ``problem`` what was expected and what came.
    ``transient`` says whether trying again may help. The summary error carries ``errors`` (one
    error per failed file) and ``report`` (the files that did succeed).
    """

    def __init__(self, path: os.PathLike | str, problem: str, *, url: str | None = None,
                 transient: bool = False, errors: Sequence["DownloadError"] = (),
                 report: "DownloadReport | None" = None):
        self.url, self.transient = url, transient
        self.errors, self.report = tuple(errors), report
        super().__init__(path, problem)


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: ``status`` is ``"fetched"`` (downloaded now and verified) or
    ``"verified"`` (already present with the right sha256)."""

    path: str
    status: str
    bytes: int
    url: str | None = None


@dataclass(frozen=True)
class DownloadReport:
    """The outcome of :func:`download`: one :class:`FileResult` per file, the licence and the
    citation the data set asks for."""

    name: str
    root: Path
    files: tuple[FileResult, ...]
    licence: Licence = field(repr=False)

    @property
    def fetched(self) -> list[str]:
        return [f.path for f in self.files if f.status == "fetched"]

    @property
    def verified(self) -> list[str]:
        return [f.path for f in self.files if f.status == "verified"]

    @property
    def total_bytes(self) -> int:
        """The size of every file of the report, fetched or already present."""
        return sum(f.bytes for f in self.files)

    @property
    def downloaded_bytes(self) -> int:
        """The bytes fetched by this call (failed attempts not counted)."""
        return sum(f.bytes for f in self.files if f.status == "fetched")


Progress = Callable[[str, str, int, int], None]
"""``progress(path, status, done, total)``: ``status`` is ``"verified"`` (already good),
``"fetching"`` (repeatedly, ``done`` bytes so far), ``"retry"``, ``"fetched"`` or ``"failed"``."""


# --------------------------------------------------------------------------------------------
# Hashing and verifying


def sha256_file(path: os.PathLike | str) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_present(entry: ManifestEntry, dest: Path, root: Path) -> str | None:
    """``None`` if ``dest`` holds exactly the manifest's file, else what is wrong. A link out of
    the data directory never passes, whatever it points at: the sources refuse to read it."""
    if not os.path.lexists(dest):
        return "missing"
    target = outside_of(dest, root)
    if target is not None:
        return f"a symbolic link out of the data directory (to {target}); expected a file inside it"
    if not dest.exists():
        return f"a symbolic link to {dest.resolve()}, which does not exist"
    if not dest.is_file():
        return "expected a file, found something else (a directory?)"
    size = dest.stat().st_size
    if size != entry.size:
        return f"expected {entry.size} bytes, found {size}"
    got = sha256_file(dest)
    if got != entry.sha256:
        return f"expected sha256 {entry.sha256}, found {got}"
    return None


def verify(name: str, root: os.PathLike | str, *, files: Iterable[str] | str | None = None) -> list[str]:
    """Check an existing data directory against the manifest: one line per file of data set
    ``name`` (or of ``files``) that is missing, a link out of the data directory, of the wrong
    size or of the wrong sha256, as ``"<manifest path>: <problem>"``. An empty list means every
    file is present and intact."""
    root = Path(root).expanduser()
    problems = []
    for entry in dataset_files(name, files):
        problem = _check_present(entry, entry.destination(root), root)
        if problem is not None:
            problems.append(f"{entry.path}: {problem}")
    return problems


# --------------------------------------------------------------------------------------------
# Fetching


def _expectation(entry: ManifestEntry) -> str:
    return f"expected {entry.size} bytes with sha256 {entry.sha256}"


def _fetch_once(entry: ManifestEntry, dest: Path, url: str, timeout: float,
                progress: Progress | None) -> None:
    """One attempt: stream ``url`` into a temporary file beside ``dest``, check it, move it in.
    Raises :class:`DownloadError`; leaves no temporary file behind in any case."""

    def fail(got: str, transient: bool) -> DownloadError:
        return DownloadError(dest, f"download from {url} failed: {_expectation(entry)}, got {got}",
                             url=url, transient=transient)

    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    handle = tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=PART_SUFFIX, delete=False)
    part = Path(handle.name)
    try:
        with handle:
            if fcntl is not None:  # held until this process ends: a part file nobody holds is stale
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # a file system without flock: then no part file is ever taken for stale
                    pass
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                exc.close()
                raise fail(f"HTTP {exc.code} {exc.reason}", exc.code in _RETRY_HTTP_CODES) from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    raise fail(f"no connection within {timeout} s (timeout)", True) from None
                if isinstance(reason, FileNotFoundError):  # a file:// mirror lacking the file
                    raise fail(f"no such file ({reason})", False) from None
                raise fail(f"a connection error ({reason})", True) from None
            except (TimeoutError, socket.timeout):
                raise fail(f"no response within {timeout} s (timeout)", True) from None
            except (http.client.HTTPException, ConnectionError) as exc:
                raise fail(f"a broken response ({type(exc).__name__}: {exc})", True) from None
            with response:
                announced = response.headers.get("Content-Length")
                announced = int(announced) if announced and announced.strip().isdigit() else None
                if announced is not None and announced != entry.size:
                    raise fail(f"a response announcing {announced} bytes (Content-Length)", False)
                digest, received = hashlib.sha256(), 0
                while True:
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (TimeoutError, socket.timeout):
                        raise fail(f"{received} bytes, then nothing for {timeout} s (stalled; timeout)", True) from None
                    except (http.client.HTTPException, ConnectionError, OSError) as exc:
                        raise fail(f"{received} bytes, then a broken connection ({type(exc).__name__}: {exc})", True) from None
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > entry.size:
                        raise fail(f"more than {entry.size} bytes", False)
                    digest.update(chunk)
                    handle.write(chunk)
                    if progress is not None:
                        progress(entry.path, "fetching", received, entry.size)
            if received != entry.size:
                # A body shorter than announced was cut off on the way: worth another try.
                raise fail(f"{received} bytes (the connection closed early; truncated)",
                           announced is not None and received < announced)
            got = digest.hexdigest()
            if got != entry.sha256:
                raise fail(f"{received} bytes with sha256 {got} (corrupted)", False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, dest)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    except OSError as exc:  # disk full, permissions, a directory in the way, ...
        part.unlink(missing_ok=True)
        raise DownloadError(dest, f"could not write the file from {url}: {exc}", url=url) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def remove_stale_parts(dest: Path) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.part``) that earlier downloads of ``dest``
    left behind when they were killed (SIGKILL, power loss: no ``finally`` runs). A download in
    progress holds a lock on its part file, so only files nobody holds are deleted; without
    ``fcntl`` (Windows) nothing is. Returns the files deleted."""
    if fcntl is None or not dest.parent.is_dir():
        return []
    removed = []
    for part in dest.parent.glob(f".{glob.escape(dest.name)}.*{PART_SUFFIX}"):
        try:
            with open(part, "rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                part.unlink()
            removed.append(part)
        except OSError:  # held by a live download, or already gone
            continue
    return removed


def _fetch(entry: ManifestEntry, dest: Path, url: str, *, timeout: float, retries: int,
           backoff: float, progress: Progress | None) -> None:
    for attempt in range(retries + 1):
        try:
            _fetch_once(entry, dest, url, timeout, progress)
            return
        except DownloadError as exc:
            if not exc.transient or attempt == retries:
                if attempt:
                    exc = DownloadError(dest, f"{exc.problem} (after {attempt + 1} attempts)",
                                        url=url, transient=exc.transient)
                raise exc from None
            if progress is not None:
                progress(entry.path, "retry", 0, entry.size)
            time.sleep(backoff * 2 ** attempt)


def download(
    name: str,
    to: os.PathLike | str,
    *,
    base_url: str | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 1.0,
    progress: Progress | None = None,
    files: Iterable[str] | str | None = None,
) -> DownloadReport:
    """Fetch data set ``name`` (``loghub``, ``loglm`` or ``hdfs``) into the data directory ``to``
    and verify every file against the manifest.

    Arguments:
        base_url: the mirror, laid out as ``/{repo}/{commit}/{path}``; default
            ``$RLOG_DOWNLOAD_BASE_URL``, else ``https://raw.githubusercontent.com``.
        timeout: seconds any one socket operation may wait (connect, or the next bytes of a body)
            before the attempt counts as stalled.
        retries: further attempts after a transient failure (connection, timeout, truncation,
            HTTP 408/429/5xx), waiting ``backoff * 2**k`` seconds before attempt ``k + 2``.
        progress: ``progress(path, status, done, total)``, see :data:`Progress`.
        files: only these manifest paths or shell-style patterns (``"loghub/HDFS/*"``).

    Returns a :class:`DownloadReport`. Raises :class:`DownloadError` naming every file that
    failed (after fetching the others), ``ValueError`` for a bad argument.
    """
    entries = dataset_files(name, files)
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"retries expects an int >= 0, got {retries!r}")
    if not timeout > 0:
        raise ValueError(f"timeout expects seconds > 0, got {timeout!r}")
    if not backoff >= 0:
        raise ValueError(f"backoff expects seconds >= 0, got {backoff!r}")
    base = resolve_base_url(base_url)
    root = Path(to).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()

    results: list[FileResult] = []
    errors: list[DownloadError] = []
    for entry in entries:
        dest = entry.destination(root)
        outside = outside_of(dest.parent, root)
        if outside is not None:  # a folder linked out of the data directory: never write there
            errors.append(DownloadError(dest, f"refused: its folder leads, through a symbolic link, to "
                                              f"{outside}, outside the data directory {root}; expected "
                                              "real folders inside it (remove the link)", url=entry.url(base)))
            if progress is not None:
                progress(entry.path, "failed", 0, entry.size)
            continue
        remove_stale_parts(dest)
        present = _check_present(entry, dest, root)
        if present is None:
            results.append(FileResult(entry.path, "verified", entry.size))
            if progress is not None:
                progress(entry.path, "verified", entry.size, entry.size)
            continue
        url = entry.url(base)
        removed = present != "missing" and dest.is_file() and not dest.is_symlink()
        if removed:
            # It failed verification: remove it before fetching, so that no reader finds it even
            # if this fetch fails, is interrupted or the process is killed.
            dest.unlink()
        try:
            _fetch(entry, dest, url, timeout=timeout, retries=retries, backoff=backoff, progress=progress)
        except DownloadError as exc:
            if removed:
                exc = DownloadError(dest, f"{exc.problem}; the file already there ({present}) was removed",
                                    url=url, transient=exc.transient)
            errors.append(exc)
            if progress is not None:
                progress(entry.path, "failed", 0, entry.size)
            continue
        results.append(FileResult(entry.path, "fetched", entry.size, url))
        if progress is not None:
            progress(entry.path, "fetched", entry.size, entry.size)

    report = DownloadReport(name, root, tuple(results), LICENCES[name])
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors)
        raise DownloadError(
            root,
            f"{len(errors)} of {len(entries)} file(s) of data set {name!r} failed; nothing that "
            f"failed was left in place (run again to retry; good files are kept):\n{listing}",
            url=base, transient=all(e.transient for e in errors), errors=errors, report=report,
        )
    return report


__all__ = [
    "BASE_URL_ENV", "DATASETS", "DEFAULT_BASE_URL", "DownloadError", "DownloadReport", "FileResult",
    "LICENCES", "Licence", "ManifestEntry", "Progress", "dataset_files", "download", "manifest",
    "read_manifest", "remove_stale_parts", "resolve_base_url", "sha256_file", "verify",
]
