"""A corpus of broken data: a minimal valid data directory, and the ways to break it.

:func:`pristine_files` takes a few real lines of every file the real sources read (LogHub Linux
and BGL, the LogLM instruction file, the HDFS session files and templates, the manifest) from
the real data directory at test time, keeping their bytes as upstream ships them (CRLF where
upstream has CRLF); nothing is ever copied into the repository. :func:`write_files` lays them
out under a fresh data directory, like shared/data.

Each :class:`Corrupt` breaks one thing in that layout — a truncated CSV, a wrong encoding, a
symbolic link out of the data directory, ... — and says which file the error must name, on
which line (``None`` where there is no line: a missing file, a directory, a link) and what the
message must say. ``touched`` are the paths the case changed: restoring them from the pristine
files is the fix, after which the same data directory must load exactly like a clean one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rlog_env import load_source
from rlog_env.datasets.download import read_manifest

LINUX_CSV = "loghub/Linux/Linux_2k.log_structured.csv"  # CRLF, as upstream
LINUX_GT = "loghub2_2k_corrected/Linux/Linux_2k.log_structured_corrected.csv"  # LF, as upstream
BGL_CSV = "loghub/BGL/BGL_2k.log_structured.csv"
BGL_GT = "loghub2_2k_corrected/BGL/BGL_2k.log_structured_corrected.csv"
BGL_LOG = "loghub/BGL/BGL_2k.log"
LOGLM = "loglm/instruction_dataset_of_loglm.json"
LOGLM_TEST = "loglm/test_set/log_interpretation_test.json"
HDFS_TRAIN = "hdfs_anomaly/hdfs_train"
HDFS_ABNORMAL = "hdfs_anomaly/hdfs_test_abnormal"
ROBUST_TRAIN = "hdfs_anomaly/robust_log_train.csv"
ROBUST_VALID = "hdfs_anomaly/robust_log_valid.csv"
HDFS_TEMPLATES = "hdfs_anomaly/HDFS_templates.csv"
MANIFEST = "MANIFEST.tsv"

LINUX_ROWS, BGL_ROWS, HDFS_LINES, LOGLM_PER_TASK, MANIFEST_ROWS = 40, 60, 40, 12, 10
LOGLM_BLOCKS = (0, 300, 600, 900, 1232)  # where each task's items start in the instruction file
LOGLM_AD_ITEM = 3 * LOGLM_PER_TASK  # the first anomaly-detection item of the small file
HUGE = 200_000  # characters: past MAX_LINE_CHARS (131,072) and the csv module's field limit

LOADERS: dict[str, Callable[[Path], object]] = {
    "loghub-parsing": lambda root: load_source("loghub", "log_parsing", data_dir=root),
    "loghub-anomaly": lambda root: load_source("loghub", "anomaly_detection", data_dir=root),
    "loglm": lambda root: load_source("loglm", "log_interpretation", data_dir=root),
    "hdfs": lambda root: load_source("hdfs", "anomaly_detection", data_dir=root),
    "manifest": lambda root: read_manifest(root / MANIFEST),
}


def snapshot(loaded) -> tuple:
    """What a load produced, comparable across data directories."""
    if isinstance(loaded, tuple):  # manifest entries
        return loaded
    return tuple((s.domain, s.logs, s.reference, s.meta["split"], s.meta["id"]) for s in loaded.samples)


# -- the minimal valid layout -----------------------------------------------------------------

def _head(data: bytes, lines: int) -> bytes:
    """The first ``lines`` lines of ``data``, each with its own line ending."""
    end = 0
    for _ in range(lines):
        end = data.index(b"\n", end) + 1
    return data[:end]


def pristine_files(data_dir: Path) -> dict[str, bytes]:
    """Relative path -> bytes of a minimal valid data directory, cut from the real files."""
    read = lambda rel: (data_dir / rel).read_bytes()  # noqa: E731
    items = json.loads(read(LOGLM))
    small = [item for start in LOGLM_BLOCKS for item in items[start:start + LOGLM_PER_TASK]]
    return {
        LINUX_CSV: _head(read(LINUX_CSV), LINUX_ROWS + 1),
        LINUX_GT: _head(read(LINUX_GT), LINUX_ROWS + 1),
        BGL_CSV: _head(read(BGL_CSV), BGL_ROWS + 1),
        BGL_GT: _head(read(BGL_GT), BGL_ROWS + 1),
        BGL_LOG: _head(read(BGL_LOG), BGL_ROWS),
        LOGLM: json.dumps(small, ensure_ascii=False).encode("utf-8"),  # one line, as upstream
        HDFS_TRAIN: _head(read(HDFS_TRAIN), HDFS_LINES),
        HDFS_ABNORMAL: _head(read(HDFS_ABNORMAL), HDFS_LINES),
        ROBUST_TRAIN: _head(read(ROBUST_TRAIN), HDFS_LINES + 1),
        ROBUST_VALID: _head(read(ROBUST_VALID), HDFS_LINES + 1),
        HDFS_TEMPLATES: read(HDFS_TEMPLATES),
        MANIFEST: _head(read(MANIFEST), MANIFEST_ROWS + 1),
    }


def write_files(root: Path, files: dict[str, bytes], under: str = "") -> None:
    """Write the ``files`` (all, or those under the relative path ``under``) below ``root``."""
    for rel, data in files.items():
        if not under or rel == under or rel.startswith(under.rstrip("/") + "/"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)


def remove(path: Path) -> None:
    """Remove whatever is at ``path``: a file, a link (not its target), a pipe or a directory."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def restore(root: Path, files: dict[str, bytes], touched: tuple[str, ...]) -> None:
    """The fix: put the pristine content back at every path a case touched."""
    for rel in touched:
        remove(root / rel)
        write_files(root, files, under=rel)


# -- editing helpers ----------------------------------------------------------------------------

def edit_line(path: Path, number: int, transform: Callable[[bytes], bytes]) -> None:
    """Replace physical line ``number`` (1-based, its CR kept with it) by ``transform(line)``."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = transform(lines[number - 1])
    path.write_bytes(b"\n".join(lines))


def set_field(index: int, value: bytes) -> Callable[[bytes], bytes]:
    """A line transform setting comma-separated field ``index`` (CR kept at the end)."""
    def transform(line: bytes) -> bytes:
        cr = line.endswith(b"\r")
        fields = line.removesuffix(b"\r").split(b",")
        fields[index] = value
        return b",".join(fields) + (b"\r" if cr else b"")
    return transform


def loglm_items(root: Path) -> list[dict]:
    return json.loads((root / LOGLM).read_text(encoding="utf-8"))


def write_pretty(root: Path, items: list, rel: str = LOGLM) -> None:
    """Write LogLM items one key per line, so each item starts on a line of its own."""
    (root / rel).write_text(json.dumps(items, indent=1, ensure_ascii=False), encoding="utf-8")


def pretty_item_line(items: list, index: int) -> int:
    """The line on which item ``index`` starts in :func:`write_pretty`'s layout."""
    text = json.dumps(items, indent=1, ensure_ascii=False)
    return text.count("\n", 0, _item_starts(text)[index]) + 1


def _item_starts(text: str) -> list[int]:
    decoder, starts, at = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        while text[at] in " \n,":
            at += 1
        if text[at] == "]":
            return starts
        starts.append(at)
        _, at = decoder.raw_decode(text, at)


def link_out(root: Path, rel: str, files: dict[str, bytes]) -> None:
    """Replace ``rel`` by a symbolic link to an identical copy outside the data directory, so
    that only the link is wrong."""
    outside = root.parent / "outside" / rel
    remove(outside)
    write_files(root.parent / "outside", files, under=rel)
    remove(root / rel)
    (root / rel).symlink_to(outside)


def _with_loglm(change: Callable[[list], None], pretty: bool = True) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        items = loglm_items(root)
        change(items)
        if pretty:
            write_pretty(root, items)
        else:
            (root / LOGLM).write_text(json.dumps(items), encoding="utf-8")
    return corrupt


def _pretty_line(change: Callable[[list], None], index: int) -> Callable[[dict], int]:
    """The expected line of item ``index`` once ``change`` is applied and the file pretty-printed."""
    def line(files: dict) -> int:
        items = json.loads(files[LOGLM])
        change(items)
        return pretty_item_line(items, index)
    return line


# -- the corpus ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Corrupt:
    """One broken input: ``corrupt(root, pristine files)`` breaks the layout under ``root``; the
    ``loader`` (a key of :data:`LOADERS`) must then raise a ``DataError`` naming ``file`` (relative
    to the data directory), ``line`` (an int, a function of the pristine files, or ``None``)
    and every one of ``words``."""

    id: str
    loader: str
    file: str
    line: int | Callable[[dict], int] | None
    words: tuple[str, ...]
    corrupt: Callable[[Path, dict], None]
    touched: tuple[str, ...] = ()

    def paths_to_restore(self) -> tuple[str, ...]:
        return self.touched or (self.file,)

    def expected_line(self, files: dict) -> int | None:
        return self.line(files) if callable(self.line) else self.line


def _edit(rel: str, number: int, transform: Callable[[bytes], bytes]) -> Callable[[Path, dict], None]:
    return lambda root, files: edit_line(root / rel, number, transform)


def _rewrite(rel: str, transform: Callable[[bytes], bytes]) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        (root / rel).write_bytes(transform((root / rel).read_bytes()))
    return corrupt


def _as_directory(rel: str) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        remove(root / rel)
        (root / rel).mkdir()
        (root / rel / "stray.txt").write_text("a directory where a file should be\n")
    return corrupt


def _as_fifo(rel: str) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        remove(root / rel)
        os.mkfifo(root / rel)  # opening it would block for ever: it must be refused unopened
    return corrupt


def _dangling(rel: str) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        remove(root / rel)
        (root / rel).symlink_to(root / "nowhere" / "gone.csv")
    return corrupt


def _utf16(bom: bool) -> Callable[[bytes], bytes]:
    return lambda data: data.decode("utf-8").encode("utf-16" if bom else "utf-16-le")


def _mix_ending(data: bytes, number: int) -> bytes:
    """Flip the line ending of physical line ``number``: CRLF becomes LF, LF becomes CRLF."""
    lines = data.split(b"\n")
    line = lines[number - 1]
    lines[number - 1] = line[:-1] if line.endswith(b"\r") else line + b"\r"
    return b"\n".join(lines)


def _drop_ad_label(root: Path, files: dict) -> None:
    # LineId 4: its CSV row is on line 5, its raw line is line 4; both lose the label
    edit_line(root / BGL_CSV, 5, set_field(1, b""))
    edit_line(root / BGL_LOG, 4, lambda line: line[line.index(b" "):])


def _unknown_ad_label(root: Path, files: dict) -> None:
    edit_line(root / BGL_CSV, 7, set_field(1, b"normal"))
    edit_line(root / BGL_LOG, 6, lambda line: b"normal" + line[line.index(b" "):])


def _repeat_header(root: Path, files: dict) -> None:
    lines = (root / LINUX_GT).read_bytes().split(b"\n")
    lines.insert(19, lines[0])  # the header again as line 20, as when two files are joined
    (root / LINUX_GT).write_bytes(b"\n".join(lines))


def _truncate_json_pretty(root: Path, files: dict) -> None:
    text = json.dumps(loglm_items(root), indent=1)
    (root / LOGLM).write_text(text[: text.index('"output"', len(text) // 2) + 20], encoding="utf-8")


def _truncated_json_line(files: dict) -> int:
    text = json.dumps(json.loads(files[LOGLM]), indent=1)
    return text.count("\n", 0, text.index('"output"', len(text) // 2) + 20) + 1


def _test_set(data: bytes) -> Callable[[Path, dict], None]:
    def corrupt(root: Path, files: dict) -> None:
        (root / LOGLM_TEST).parent.mkdir(parents=True, exist_ok=True)
        (root / LOGLM_TEST).write_bytes(data)
    return corrupt


def _dangling_test_set(root: Path, files: dict) -> None:
    (root / LOGLM_TEST).parent.mkdir(parents=True, exist_ok=True)
    (root / LOGLM_TEST).symlink_to(root / "loglm" / "gone.json")


def _drop_key(index: int, key: str) -> Callable[[list], None]:
    return lambda items: items[index].pop(key)


def _set_key(index: int, key: str, value) -> Callable[[list], None]:
    return lambda items: items[index].__setitem__(key, value)


def _duplicate_key(root: Path, files: dict) -> None:
    items = loglm_items(root)
    text = json.dumps(items, indent=1, ensure_ascii=False)
    start = _item_starts(text)[5]
    key_at = text.index('"output": ', start)
    # the item says "output" twice: json would keep the second silently
    (root / LOGLM).write_text(text[:key_at] + '"output": "abnormal",\n  ' + text[key_at:], encoding="utf-8")


def _manifest_row(number: int, transform: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path, dict], None]:
    def line(raw: bytes) -> bytes:
        return b"\t".join(transform(raw.split(b"\t")))
    return _edit(MANIFEST, number, line)


def _replace_at(fields: list[bytes], index: int, value: bytes) -> list[bytes]:
    return fields[:index] + [value] + fields[index + 1:]


CORPUS: tuple[Corrupt, ...] = (
    # -- LogHub parsing: the structured CSV (CRLF) and its corrected ground truth (LF) ----------
    Corrupt("csv-row-cut-short", "loghub-parsing", LINUX_CSV, 5, ("expected 10 fields", "found 3"),
            _edit(LINUX_CSV, 5, lambda line: b",".join(line.split(b",")[:3]) + b"\r")),
    Corrupt("csv-extra-field", "loghub-parsing", LINUX_GT, 7, ("expected 10 fields", "found 11"),
            _edit(LINUX_GT, 7, lambda line: line + b",extra")),
    Corrupt("csv-cut-mid-last-field", "loghub-parsing", LINUX_GT, LINUX_ROWS + 1,
            ("does not end with a line break", "cut off"), _rewrite(LINUX_GT, lambda data: data[:-15])),
    Corrupt("csv-cut-at-a-row-boundary", "loghub-parsing", LINUX_GT, 27,
            ("ends after 25 rows", "cut short", "expected the same LineIds"),
            _rewrite(LINUX_GT, lambda data: _head(data, 26))),
    Corrupt("csv-structured-cut-short", "loghub-parsing", LINUX_CSV, 32, ("ends after 30 rows", "cut short"),
            _rewrite(LINUX_CSV, lambda data: _head(data, 31))),
    Corrupt("csv-header-only", "loghub-parsing", LINUX_CSV, 2, ("no rows after the header", "expected"),
            _rewrite(LINUX_CSV, lambda data: _head(data, 1))),
    Corrupt("csv-empty-file", "loghub-parsing", LINUX_CSV, 1, ("empty file", "expected a CSV header"),
            _rewrite(LINUX_CSV, lambda data: b"")),
    Corrupt("csv-missing-column", "loghub-parsing", LINUX_GT, 1, ("lacks column(s) EventTemplate", "expected"),
            _edit(LINUX_GT, 1, lambda line: line.replace(b"EventTemplate", b"Template"))),
    Corrupt("csv-wrong-file-in-place", "loghub-parsing", LINUX_GT, 1, ("lacks column(s) LineId",),
            _rewrite(LINUX_GT, lambda data: b"EventId,EventTemplate,Occurrences\nE1,session opened <*>,3\n")),
    Corrupt("csv-duplicate-column", "loghub-parsing", LINUX_CSV, 1, ("Content appear", "more than once", "expected each column once"),
            _edit(LINUX_CSV, 1, lambda line: line.replace(b"Component", b"Content"))),
    Corrupt("csv-header-repeated-mid-file", "loghub-parsing", LINUX_GT, 20, ("header row repeats", "expected the row of LineId 19"),
            _repeat_header),
    Corrupt("csv-unclosed-quote", "loghub-parsing", LINUX_CSV, 10, ("double quote", "expected one row per line"),
            _edit(LINUX_CSV, 10, set_field(7, b'"check pass; user unknown'))),
    Corrupt("csv-unclosed-quote-in-last-row", "loghub-parsing", LINUX_GT, LINUX_ROWS + 1, ("never closed",),
            _edit(LINUX_GT, LINUX_ROWS + 1, lambda line: line[: line.rindex(b",") + 1] + b'"' + line[line.rindex(b",") + 1:])),
    Corrupt("latin-1", "loghub-parsing", LINUX_CSV, 12, ("not valid UTF-8", "Latin-1"),
            _edit(LINUX_CSV, 12, set_field(7, b"caf\xe9 session opened"))),
    Corrupt("invalid-utf8-continuation", "loghub-parsing", LINUX_GT, 30, ("not valid UTF-8", "expected UTF-8"),
            _edit(LINUX_GT, 30, lambda line: line.replace(b",", b",\xc3\x28", 1))),
    Corrupt("utf8-cut-mid-character", "loghub-parsing", LINUX_GT, LINUX_ROWS + 2, ("not valid UTF-8", "unexpected end"),
            _rewrite(LINUX_GT, lambda data: data + b"41,Jun,14,15:16:01,combo,x,1,\xe2\x82")),
    Corrupt("utf-16-with-bom", "loghub-parsing", LINUX_GT, 1, ("UTF-16", "expected UTF-8"),
            _rewrite(LINUX_GT, _utf16(bom=True))),
    Corrupt("utf-16-without-bom", "loghub-parsing", LINUX_CSV, 1, ("NUL byte", "UTF-16"),
            _rewrite(LINUX_CSV, _utf16(bom=False))),
    Corrupt("utf-8-bom", "loghub-parsing", LINUX_GT, 1, ("byte-order mark", "expected UTF-8 without"),
            _rewrite(LINUX_GT, lambda data: b"\xef\xbb\xbf" + data)),
    Corrupt("nul-byte", "loghub-parsing", LINUX_CSV, 6, ("NUL byte", "expected text"),
            _edit(LINUX_CSV, 6, lambda line: line.replace(b",", b",\x00", 1))),
    Corrupt("zero-filled-tail", "loghub-parsing", LINUX_GT, LINUX_ROWS + 2, ("NUL byte", "crash"),
            _rewrite(LINUX_GT, lambda data: data + bytes(4096))),
    Corrupt("crlf-file-with-an-lf-line", "loghub-parsing", LINUX_CSV, 15, ("ends in LF", "line 1 ends in CRLF"),
            _rewrite(LINUX_CSV, lambda data: _mix_ending(data, 15))),
    Corrupt("lf-file-with-a-crlf-line", "loghub-parsing", LINUX_GT, 9, ("ends in CRLF", "one line ending"),
            _rewrite(LINUX_GT, lambda data: _mix_ending(data, 9))),
    Corrupt("bare-cr", "loghub-parsing", LINUX_CSV, 9, ("carriage return", "expected lines ending in LF or CRLF"),
            _edit(LINUX_CSV, 9, lambda line: line + b"\r")),
    Corrupt("huge-line", "loghub-parsing", LINUX_CSV, 4, ("131072 characters",),
            _edit(LINUX_CSV, 4, set_field(7, b"x" * HUGE))),
    Corrupt("directory-instead-of-file", "loghub-parsing", LINUX_GT, None, ("expected a file", "directory"),
            _as_directory(LINUX_GT)),
    Corrupt("named-pipe-instead-of-file", "loghub-parsing", LINUX_CSV, None, ("expected a file", "named pipe"),
            _as_fifo(LINUX_CSV)),
    Corrupt("symlink-out-of-the-data-directory", "loghub-parsing", LINUX_CSV, None,
            ("refused", "outside the data directory", "any file on this machine"),
            lambda root, files: link_out(root, LINUX_CSV, files)),
    Corrupt("folder-symlinked-out", "loghub-parsing", LINUX_CSV, None, ("refused", "outside the data directory"),
            lambda root, files: link_out(root, "loghub/Linux", files), touched=("loghub/Linux",)),
    Corrupt("dangling-symlink", "loghub-parsing", LINUX_GT, None, ("symbolic link", "does not exist"),
            _dangling(LINUX_GT)),
    Corrupt("missing-ground-truth", "loghub-parsing", LINUX_GT, None, ("no corrected templates", "expected this file"),
            lambda root, files: remove(root / LINUX_GT)),
    Corrupt("non-integer-line-id", "loghub-parsing", LINUX_CSV, 10, ("expected an integer LineId", "'ten'"),
            _edit(LINUX_CSV, 10, set_field(0, b"ten"))),
    Corrupt("duplicate-line-id", "loghub-parsing", LINUX_GT, 12, ("expected LineId 11", "'10'"),
            _edit(LINUX_GT, 12, set_field(0, b"10"))),
    Corrupt("missing-template", "loghub-parsing", LINUX_GT, 8, ("empty EventTemplate", "expected the template"),
            _edit(LINUX_GT, 8, lambda line: line[: line.rindex(b",") + 1])),
    # -- LogHub anomaly detection: BGL labels and the raw log ----------------------------------
    Corrupt("missing-label", "loghub-anomaly", BGL_CSV, 5, ("expected the Label '-'", "found ''"),
            _drop_ad_label, touched=(BGL_CSV, BGL_LOG)),
    Corrupt("unknown-label", "loghub-anomaly", BGL_CSV, 7, ("alert category", "found 'normal'"),
            _unknown_ad_label, touched=(BGL_CSV, BGL_LOG)),
    Corrupt("raw-label-disagrees", "loghub-anomaly", BGL_LOG, 7, ("expected the label '-'", "'KERNDTLB'"),
            _edit(BGL_LOG, 7, lambda line: b"KERNDTLB" + line[line.index(b" "):])),
    Corrupt("raw-log-cut-short", "loghub-anomaly", BGL_LOG, 46, ("ends after 45 lines", "cut short"),
            _rewrite(BGL_LOG, lambda data: _head(data, 45))),
    Corrupt("raw-log-extra-lines", "loghub-anomaly", BGL_LOG, BGL_ROWS + 1, (f"has {BGL_ROWS + 3} lines", f"expected {BGL_ROWS}"),
            _rewrite(BGL_LOG, lambda data: data + _head(data, 3))),
    Corrupt("raw-log-huge-line", "loghub-anomaly", BGL_LOG, 3, ("131072", "lost line break"),
            _edit(BGL_LOG, 3, lambda line: line[:-1] + b"x" * HUGE + b"\r")),
    Corrupt("raw-log-empty", "loghub-anomaly", BGL_LOG, 1, ("empty file", "expected a raw BGL log line"),
            _rewrite(BGL_LOG, lambda data: b"")),
    # -- LogLM: the instruction JSON and a test-set file ---------------------------------------
    Corrupt("json-truncated", "loglm", LOGLM, 1, ("invalid JSON", "expected a JSON array"),
            _rewrite(LOGLM, lambda data: data[: len(data) // 2])),
    Corrupt("json-truncated-pretty-printed", "loglm", LOGLM, _truncated_json_line, ("invalid JSON",),
            _truncate_json_pretty),
    Corrupt("json-object-not-array", "loglm", LOGLM, 1, ("expected a JSON array", "found an object"),
            _rewrite(LOGLM, lambda data: b'{"items": ' + data + b"}")),
    Corrupt("json-array-of-strings", "loglm", LOGLM, 1, ("item 0", "expected an object", "found a string"),
            _rewrite(LOGLM, lambda data: json.dumps([str(i) for i in json.loads(data)]).encode())),
    Corrupt("json-item-missing-field", "loglm", LOGLM, _pretty_line(_drop_key(7, "output"), 7),
            ("item 7", "'output'", "no such field"), _with_loglm(_drop_key(7, "output"))),
    Corrupt("json-field-not-a-string", "loglm", LOGLM, _pretty_line(_set_key(3, "input", 42), 3),
            ("item 3", "'input'", "found a number"), _with_loglm(_set_key(3, "input", 42))),
    Corrupt("json-duplicate-key", "loglm", LOGLM, _pretty_line(lambda items: None, 5),
            ("item 5", "'output' given more than once", "expected each key once"), _duplicate_key),
    Corrupt("json-unknown-anomaly-label", "loglm", LOGLM,
            _pretty_line(_set_key(LOGLM_AD_ITEM + 2, "output", "maybe"), LOGLM_AD_ITEM + 2),
            (f"item {LOGLM_AD_ITEM + 2}", "'normal' or 'abnormal'", "'maybe'"),
            _with_loglm(_set_key(LOGLM_AD_ITEM + 2, "output", "maybe"))),
    Corrupt("json-missing-answer", "loglm", LOGLM, _pretty_line(_set_key(2, "output", " "), 2),
            ("item 2", "empty 'output'"), _with_loglm(_set_key(2, "output", " "))),
    Corrupt("json-huge-value", "loglm", LOGLM, 1, ("item 1", "'input' has 200000 characters", "131072"),
            _with_loglm(_set_key(1, "input", "x" * HUGE), pretty=False)),
    Corrupt("json-latin-1", "loglm", LOGLM, 1, ("not valid UTF-8", "Latin-1"),
            _rewrite(LOGLM, lambda data: data.replace(b'"input": "', b'"input": "caf\xe9 ', 1))),
    Corrupt("json-utf-16", "loglm", LOGLM, 1, ("UTF-16",), _rewrite(LOGLM, _utf16(bom=True))),
    Corrupt("json-utf-8-bom", "loglm", LOGLM, 1, ("byte-order mark",),
            _rewrite(LOGLM, lambda data: b"\xef\xbb\xbf" + data)),
    Corrupt("json-empty-file", "loglm", LOGLM, 1, ("an empty file", "expected a JSON array"),
            _rewrite(LOGLM, lambda data: b"")),
    Corrupt("json-empty-array", "loglm", LOGLM, 1, ("an empty array",), _rewrite(LOGLM, lambda data: b"[]\n")),
    Corrupt("json-nul-byte", "loglm", LOGLM, 1, ("NUL byte",),
            _rewrite(LOGLM, lambda data: data.replace(b'"output": "', b'"output": "\x00', 1))),
    Corrupt("test-set-wrong-shape", "loglm", LOGLM_TEST, 1, ("expected a JSON array", "found an object"),
            _test_set(b'{"log_interpretation": []}\n'), touched=("loglm/test_set",)),
    Corrupt("test-set-dangling-symlink", "loglm", LOGLM_TEST, None, ("symbolic link", "does not exist"),
            _dangling_test_set, touched=("loglm/test_set",)),
    Corrupt("loglm-folder-symlinked-out", "loglm", LOGLM, None, ("refused", "outside the data directory"),
            lambda root, files: link_out(root, "loglm", files), touched=("loglm",)),
    # -- HDFS: session files, labelled CSVs, the templates -------------------------------------
    Corrupt("sessions-empty-file", "hdfs", HDFS_TRAIN, 1, ("empty file", "expected a session"),
            _rewrite(HDFS_TRAIN, lambda data: b"")),
    Corrupt("sessions-non-integer-id", "hdfs", HDFS_TRAIN, 4, ("expected space-separated integer event ids",),
            _edit(HDFS_TRAIN, 4, lambda line: b"5 five " + line)),
    Corrupt("sessions-unknown-event", "hdfs", HDFS_ABNORMAL, 5, ("[99]", "expected ids 1..30"),
            _edit(HDFS_ABNORMAL, 5, lambda line: b"99 " + line)),
    Corrupt("sessions-blank-line", "hdfs", HDFS_TRAIN, 6, ("empty line",), _edit(HDFS_TRAIN, 6, lambda line: b"\r")),
    Corrupt("sessions-old-mac-line-endings", "hdfs", HDFS_TRAIN, 1, ("carriage return",),
            _rewrite(HDFS_TRAIN, lambda data: data.replace(b"\r\n", b"\r"))),
    Corrupt("sessions-huge-line", "hdfs", HDFS_TRAIN, 2, ("131072",),
            _edit(HDFS_TRAIN, 2, lambda line: b"5 " * (HUGE // 2) + line)),
    Corrupt("sessions-utf-16", "hdfs", HDFS_ABNORMAL, 1, ("UTF-16",), _rewrite(HDFS_ABNORMAL, _utf16(bom=True))),
    Corrupt("labelled-missing-label", "hdfs", ROBUST_TRAIN, 3, ("expected label 0 (normal) or 1", "found ''"),
            _edit(ROBUST_TRAIN, 3, lambda line: line[: line.rindex(b",") + 1])),
    Corrupt("labelled-unknown-label", "hdfs", ROBUST_VALID, 4, ("expected label 0 (normal) or 1", "found '2'"),
            _edit(ROBUST_VALID, 4, lambda line: line[: line.rindex(b",") + 1] + b"2")),
    Corrupt("labelled-wrong-columns", "hdfs", ROBUST_TRAIN, 1, ("lacks column(s) Sequence, label",),
            _edit(ROBUST_TRAIN, 1, lambda line: b"seq,lbl")),
    Corrupt("labelled-directory", "hdfs", ROBUST_VALID, None, ("directory",), _as_directory(ROBUST_VALID)),
    Corrupt("templates-duplicate-id", "hdfs", HDFS_TEMPLATES, 7, ("E5 appears again", "expected each EventId once"),
            _edit(HDFS_TEMPLATES, 7, set_field(0, b"E5"))),
    Corrupt("templates-row-missing", "hdfs", HDFS_TEMPLATES, None, ("expected the full-log templates E1..E30",),
            _rewrite(HDFS_TEMPLATES, lambda data: _head(data, 30))),
    # -- the manifest (a data directory's MANIFEST.tsv) -----------------------------------------
    Corrupt("manifest-row-without-sha256", "manifest", MANIFEST, 3, ("expected 6 tab-separated fields", "found 5"),
            _manifest_row(3, lambda fields: fields[:1] + fields[2:])),
    Corrupt("manifest-empty-sha256", "manifest", MANIFEST, 4, ("expected a lowercase hex sha256", "never be verified"),
            _manifest_row(4, lambda fields: _replace_at(fields, 1, b""))),
    Corrupt("manifest-unpinned-commit", "manifest", MANIFEST, 5, ("40-digit", "not pinned", "'master'"),
            _manifest_row(5, lambda fields: _replace_at(fields, 4, b"master"))),
    Corrupt("manifest-path-escapes", "manifest", MANIFEST, 6, ("without '.' or '..'", "../../etc/passwd"),
            _manifest_row(6, lambda fields: _replace_at(fields, 0, b"../../etc/passwd"))),
    Corrupt("manifest-duplicate-path", "manifest", MANIFEST, 8, ("listed twice", "first on line 7"),
            lambda root, files: edit_line(root / MANIFEST, 8, lambda line: (root / MANIFEST).read_bytes().split(b"\n")[6])),
    Corrupt("manifest-size-not-a-number", "manifest", MANIFEST, 9, ("expected a byte count", "'²'"),
            _manifest_row(9, lambda fields: _replace_at(fields, 2, "²".encode()))),
    Corrupt("manifest-utf-8-bom", "manifest", MANIFEST, 1, ("byte-order mark",),
            _rewrite(MANIFEST, lambda data: b"\xef\xbb\xbf" + data)),
)
