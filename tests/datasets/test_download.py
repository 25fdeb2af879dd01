"""The verified downloader, against a real HTTP server on loopback.

The server (the ``mirror`` fixture, in conftest.py) plays GitHub's raw file host: it serves
``/{repo}/{commit}/{upstream path}`` from the local copy of each manifest row in the data
directory (shared/data), and can be told to break a file in the ways networks and mirrors do:
truncate it, corrupt a byte, stall, answer 404 or 503. Files the manifest lists but the data
directory lacks (HealthApp, Mac, OpenSSH, Proxifier, loglm/test_set) are answered 404, as a
mirror without them would.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from rlog_env.datasets.base import DataError
from rlog_env.datasets.download import (
    BASE_URL_ENV,
    CHUNK_SIZE,
    DATASETS,
    DEFAULT_BASE_URL,
    LICENCES,
    DownloadError,
    dataset_files,
    download,
    manifest,
    read_manifest,
    remove_stale_parts,
    resolve_base_url,
    verify,
)

ABSENT_HERE = ("/HealthApp/", "/Mac/", "/OpenSSH/", "/Proxifier/", "loglm/test_set/")
FAST = {"retries": 0, "backoff": 0.0}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback must never go through a proxy, and no base URL may leak in from outside."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


def _leftovers(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name.endswith(".part"))


def _same_as_original(root: Path, data_dir: Path, path: str) -> bool:
    return (root / path).read_bytes() == (data_dir / path).read_bytes()


# --------------------------------------------------------------------------------------------
# The manifest and the data sets


def test_packaged_manifest_is_the_shared_manifest(data_dir):
    from importlib import resources

    packaged = resources.files("rlog_env.datasets").joinpath("manifest.tsv").read_bytes()
    assert packaged == (data_dir / "MANIFEST.tsv").read_bytes()


def test_every_manifest_row_belongs_to_a_data_set():
    rows = {e.path: e for e in manifest()}
    assert set(DATASETS) == set(LICENCES) == {"loghub", "loglm", "hdfs"}
    in_manifest = {e for entries in DATASETS.values() for e in entries if e.path in rows}
    assert in_manifest == set(rows.values())
    # The HDFS sequences are numbered by the full-log templates, which come from LogHub; the
    # hdfs source reads them (and the loghub notice) under hdfs_anomaly/, as in shared/data.
    derived = {e.path: e for e in DATASETS["hdfs"] if e.path not in rows}
    assert set(derived) == {"hdfs_anomaly/HDFS_templates.csv", "hdfs_anomaly/LICENSE_loghub"}
    assert derived["hdfs_anomaly/HDFS_templates.csv"].url("http://m") == rows["loghub/HDFS/HDFS_templates.csv"].url("http://m")
    assert derived["hdfs_anomaly/HDFS_templates.csv"].sha256 == rows["loghub/HDFS/HDFS_templates.csv"].sha256
    assert derived["hdfs_anomaly/LICENSE_loghub"].sha256 == rows["loghub/LICENSE"].sha256
    assert {e.repo for e in DATASETS["hdfs"]} == {"donglee-afar/logdeep", "logpai/loghub"}
    assert all(e.path.startswith("hdfs_anomaly/") for e in DATASETS["hdfs"])


def test_the_shared_data_matches_the_manifest(data_dir):
    """Every file present in shared/data has the manifest's sha256; only the documented ones lack."""
    for name in DATASETS:
        problems = verify(name, data_dir)
        assert all(p.endswith(": missing") for p in problems), problems
        assert all(any(a in p for a in ABSENT_HERE) for p in problems), problems
    assert verify("hdfs", data_dir) == []


def test_urls_quote_spaces_and_honour_base_url_and_env(monkeypatch):
    entry = next(e for e in DATASETS["loglm"] if e.path == "loglm/instruction_dataset_of_loglm.json")
    assert entry.url() == (f"{DEFAULT_BASE_URL}/lunyiliu/LogLM/{entry.commit}/"
                           "Instruction%20Dataset%20of%20LogLM.json")
    monkeypatch.setenv(BASE_URL_ENV, "http://mirror.example/raw/")
    assert resolve_base_url() == "http://mirror.example/raw"
    assert entry.url().startswith("http://mirror.example/raw/lunyiliu/LogLM/")
    assert resolve_base_url("https://other.example") == "https://other.example"  # argument wins
    with pytest.raises(ValueError, match=BASE_URL_ENV):
        monkeypatch.setenv(BASE_URL_ENV, "ftp://nope")
        resolve_base_url()


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="loghub, loglm, hdfs"):
        download("hdfs_v2", tmp_path)
    with pytest.raises(ValueError, match="unmatched 'loghub/Nope/\\*'"):
        download("loghub", tmp_path, files=["loghub/HDFS/*", "loghub/Nope/*"])
    with pytest.raises(ValueError, match="retries"):
        download("hdfs", tmp_path, retries=-1)
    assert [e.path for e in dataset_files("loghub", "loghub/HDFS/HDFS_2k.log*")] == [
        "loghub/HDFS/HDFS_2k.log", "loghub/HDFS/HDFS_2k.log_structured.csv", "loghub/HDFS/HDFS_2k.log_templates.csv"]


# --------------------------------------------------------------------------------------------
# Good downloads


def test_a_good_download_verifies(mirror, data_dir, tmp_path):
    events = []
    report = download("hdfs", tmp_path / "data", base_url=mirror.url, **FAST,
                      progress=lambda *event: events.append(event))
    root = tmp_path / "data"
    paths = [e.path for e in DATASETS["hdfs"]]
    assert report.fetched == paths and report.verified == []
    assert report.total_bytes == report.downloaded_bytes == sum(e.size for e in DATASETS["hdfs"])
    assert report.licence == LICENCES["hdfs"] and "SOSP 2009" in report.licence.citation
    assert all(_same_as_original(root, data_dir, p) for p in paths)
    assert verify("hdfs", root) == []
    assert _leftovers(root) == []
    assert [e[0] for e in events if e[1] == "fetched"] == paths
    assert any(e[1] == "fetching" and 0 < e[2] < e[3] for e in events)  # progress while streaming

    # A second run trusts nothing it has not hashed, and fetches nothing that hashes right.
    before = sum(mirror.requests.values())
    again = download("hdfs", root, base_url=mirror.url, **FAST)
    assert again.verified == paths and again.fetched == [] and again.downloaded_bytes == 0
    assert sum(mirror.requests.values()) == before


def test_the_env_var_picks_the_mirror_and_paths_with_spaces_are_quoted(mirror, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(BASE_URL_ENV, mirror.url + "/")
    report = download("loglm", tmp_path, files=["loglm/LICENSE", "loglm/instruction_*"], **FAST)
    assert report.fetched == ["loglm/LICENSE", "loglm/instruction_dataset_of_loglm.json"]
    assert _same_as_original(tmp_path, data_dir, "loglm/instruction_dataset_of_loglm.json")
    assert any("Instruction%20Dataset%20of%20LogLM.json" in p for p in mirror.raw_paths)


def test_a_whole_data_set_with_files_the_mirror_lacks(mirror, data_dir, tmp_path):
    """loglm's test split is not in shared/data: the mirror says 404, and the error names each
    missing file, while the files it has are fetched and kept."""
    with pytest.raises(DownloadError) as caught:
        download("loglm", tmp_path, base_url=mirror.url, **FAST)
    err = caught.value
    assert isinstance(err, DataError)
    missing = [e.path for e in DATASETS["loglm"] if e.path.startswith("loglm/test_set/")]
    assert len(err.errors) == len(missing) == 3
    for path, sub in zip(missing, err.errors):
        assert str(sub).startswith(str(tmp_path / path)) and "HTTP 404" in str(sub)
        assert sub.url.endswith(urllib.parse.quote(next(e.upstream_path for e in DATASETS["loglm"] if e.path == path)))
        assert path in str(err) and not (tmp_path / path).exists()
    assert "3 of 5 file(s)" in str(err) and "test%20set/log_interpretation_test.json" in str(err)
    assert err.report.fetched == ["loglm/LICENSE", "loglm/instruction_dataset_of_loglm.json"]
    assert _leftovers(tmp_path) == []
    assert verify("loglm", tmp_path) == [f"{p}: missing" for p in missing]


# --------------------------------------------------------------------------------------------
# Broken transfers: a clear error, nothing left that could pass as good, and a re-run heals


VICTIM = "hdfs_anomaly/hdfs_train"  # 257,875 bytes
VICTIM_ENTRY = next(e for e in DATASETS["hdfs"] if e.path == VICTIM)
SIZE = VICTIM_ENTRY.size

FAULTS = {
    "truncated": ({"truncate": SIZE // 2}, {}, f"{SIZE // 2} bytes (the connection closed early; truncated)"),
    "truncated, lying Content-Length": ({"truncate": SIZE // 2, "lie": True}, {},
                                        f"a response announcing {SIZE // 2} bytes (Content-Length)"),
    "truncated, no Content-Length": ({"truncate": SIZE - 1, "no_length": True}, {}, f"{SIZE - 1} bytes"),
    "one corrupted byte": ({"corrupt": SIZE // 3}, {}, "(corrupted)"),
    "too long": ({"extra": b"\n", "no_length": True}, {}, f"more than {SIZE} bytes"),
    "stalled after the headers": ({"stall_after": 0}, {"timeout": 0.5}, "0 bytes, then nothing for 0.5 s (stalled"),
    "stalled mid-body": ({"stall_after": 70_000}, {"timeout": 0.5}, "then nothing for 0.5 s (stalled"),
    "missing upstream (404)": ({"status": 404}, {}, "HTTP 404"),
    "server error (503)": ({"status": 503}, {}, "HTTP 503"),
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_a_broken_transfer_fails_clearly_and_leaves_nothing(fault, mirror, data_dir, tmp_path):
    spec, options, said = FAULTS[fault]
    mirror.faults[VICTIM] = spec
    files = [VICTIM, "hdfs_anomaly/LICENSE_loghub"]
    with pytest.raises(DownloadError) as caught:
        download("hdfs", tmp_path, base_url=mirror.url, files=files, **{**FAST, **options})
    err = caught.value
    (sub,) = err.errors
    text = str(sub)
    assert said in text, text
    assert text.startswith(str(tmp_path / VICTIM))  # which file
    assert "/donglee-afar/logdeep/" in sub.url and sub.url in text  # from where
    assert f"expected {SIZE} bytes with sha256 " in text  # what was expected, and what came
    assert VICTIM in str(err)
    assert not (tmp_path / VICTIM).exists()
    assert _leftovers(tmp_path) == []
    assert err.report.fetched == ["hdfs_anomaly/LICENSE_loghub"]  # the other file is fetched regardless
    assert verify("hdfs", tmp_path, files=files) == [f"{VICTIM}: missing"]

    # Once the mirror behaves, running again completes and verifies.
    del mirror.faults[VICTIM]
    report = download("hdfs", tmp_path, base_url=mirror.url, files=files, **FAST)
    assert report.fetched == [VICTIM] and report.verified == ["hdfs_anomaly/LICENSE_loghub"]
    assert _same_as_original(tmp_path, data_dir, VICTIM)
    assert verify("hdfs", tmp_path, files=files) == [] and _leftovers(tmp_path) == []


def test_transient_failures_are_retried_and_permanent_ones_are_not(mirror, data_dir, tmp_path):
    mirror.faults[VICTIM] = {"status": 503, "times": 1}
    download("hdfs", tmp_path / "a", base_url=mirror.url, files=VICTIM, retries=2, backoff=0.01)
    assert mirror.requests[VICTIM] == 2 and _same_as_original(tmp_path / "a", data_dir, VICTIM)

    mirror.requests.clear()
    mirror.faults[VICTIM] = {"truncate": 1000, "times": 1}
    events = []
    download("hdfs", tmp_path / "b", base_url=mirror.url, files=VICTIM, retries=1, backoff=0.01,
             progress=lambda *event: events.append(event[1]))
    assert mirror.requests[VICTIM] == 2 and "retry" in events
    assert _same_as_original(tmp_path / "b", data_dir, VICTIM)

    mirror.requests.clear()
    mirror.faults[VICTIM] = {"corrupt": 5}
    with pytest.raises(DownloadError, match="corrupted"):
        download("hdfs", tmp_path / "c", base_url=mirror.url, files=VICTIM, retries=2, backoff=0.01)
    assert mirror.requests[VICTIM] == 1  # a wrong hash is not retried

    mirror.requests.clear()
    mirror.faults[VICTIM] = {"status": 503}
    with pytest.raises(DownloadError, match=r"HTTP 503 .*\(after 3 attempts\)"):
        download("hdfs", tmp_path / "d", base_url=mirror.url, files=VICTIM, retries=2, backoff=0.01)
    assert mirror.requests[VICTIM] == 3
    assert _leftovers(tmp_path) == []


def test_an_unreachable_mirror_is_a_clear_error(tmp_path):
    # port 9 (discard) on loopback: nobody listens, the connection is refused at once
    with pytest.raises(DownloadError, match="connection error") as caught:
        download("hdfs", tmp_path, base_url="http://127.0.0.1:9", files="hdfs_anomaly/LICENSE_loghub", **FAST)
    assert caught.value.transient and "127.0.0.1:9/logpai/loghub/" in str(caught.value)
    assert not (tmp_path / "hdfs_anomaly" / "LICENSE_loghub").exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Files already there


def test_a_corrupted_file_already_there_is_fetched_again(mirror, data_dir, tmp_path):
    download("hdfs", tmp_path, base_url=mirror.url, **FAST)
    victim = tmp_path / VICTIM
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x20  # same size, other content
    victim.write_bytes(bytes(data))
    assert verify("hdfs", tmp_path) == [f"{VICTIM}: expected sha256 {VICTIM_ENTRY.sha256}, "
                                        f"found {hashlib.sha256(data).hexdigest()}"]
    report = download("hdfs", tmp_path, base_url=mirror.url, **FAST)
    assert report.fetched == [VICTIM] and len(report.verified) == len(DATASETS["hdfs"]) - 1
    assert _same_as_original(tmp_path, data_dir, VICTIM) and verify("hdfs", tmp_path) == []


def test_a_bad_file_already_there_is_removed_when_it_cannot_be_replaced(mirror, tmp_path):
    victim = tmp_path / VICTIM
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"half a file")
    assert verify("hdfs", tmp_path, files=VICTIM) == [f"{VICTIM}: expected {SIZE} bytes, found 11"]
    mirror.faults[VICTIM] = {"status": 404}
    with pytest.raises(DownloadError, match="was removed"):
        download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, **FAST)
    assert not victim.exists() and _leftovers(tmp_path) == []


def test_a_good_file_already_there_is_not_fetched(mirror, data_dir, tmp_path):
    path = "hdfs_anomaly/HDFS_templates.csv"
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_bytes((data_dir / path).read_bytes())
    served = "loghub/HDFS/HDFS_templates.csv"  # the manifest row the mirror serves it as
    mirror.faults[served] = {"status": 404}  # would fail if it were asked for
    report = download("hdfs", tmp_path, base_url=mirror.url, files=path, **FAST)
    assert report.verified == [path] and mirror.requests[served] == 0 and mirror.raw_paths == []


def test_an_interrupted_download_leaves_no_part_file(mirror, tmp_path):
    def interrupt(path, status, done, total):
        if status == "fetching":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, progress=interrupt, **FAST)
    assert not (tmp_path / VICTIM).exists() and _leftovers(tmp_path) == []


def test_a_downloaded_hdfs_directory_serves_the_hdfs_source(mirror, tmp_path):
    """What download writes is the layout the sources read (hdfs_anomaly/, templates included)."""
    from rlog_env.datasets import SOURCES, load_source

    if "hdfs" not in SOURCES:
        pytest.skip("the hdfs source is not registered")
    download("hdfs", tmp_path, base_url=mirror.url, **FAST)
    source = load_source("hdfs", "anomaly_detection", split="test", data_dir=tmp_path)
    assert len(source) > 0 and {s.reference for s in source.samples} == {"normal", "abnormal"}


# --------------------------------------------------------------------------------------------
# Pinning, unknown files, links, retries and kills


def test_every_manifest_row_is_pinned_by_commit_size_and_sha256(data_dir):
    rows = manifest()
    assert rows == read_manifest(data_dir / "MANIFEST.tsv")  # the data directory's copy reads the same
    for entry in rows:
        assert re.fullmatch(r"[0-9a-f]{40}", entry.commit), entry  # a commit id, never a branch
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256) and entry.size > 0, entry
        assert f"/{entry.repo}/{entry.commit}/" in entry.url("http://mirror")


def test_a_file_the_manifest_does_not_list_is_never_verified(mirror, tmp_path):
    download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, **FAST)
    (tmp_path / "hdfs_anomaly" / "extra.csv").write_text("Sequence,label\n5 5,0\n")
    report = download("hdfs", tmp_path, base_url=mirror.url, **FAST)
    assert "hdfs_anomaly/extra.csv" not in report.verified + report.fetched
    assert sorted(report.verified + report.fetched) == sorted(e.path for e in DATASETS["hdfs"])
    with pytest.raises(ValueError, match="unmatched 'hdfs_anomaly/extra.csv'"):
        download("hdfs", tmp_path, base_url=mirror.url, files="hdfs_anomaly/extra.csv", **FAST)
    with pytest.raises(ValueError, match="unmatched"):
        verify("hdfs", tmp_path, files="hdfs_anomaly/extra.csv")


def test_a_file_linked_out_of_the_data_directory_is_fetched_again(mirror, data_dir, tmp_path):
    """Even a link to the right bytes is not trusted: the sources refuse links out of the data
    directory, so download replaces the link by the verified file (and leaves its target alone)."""
    root, outside = tmp_path / "data", tmp_path / "outside" / "hdfs_train"
    outside.parent.mkdir(parents=True)
    outside.write_bytes((data_dir / VICTIM).read_bytes())
    (root / VICTIM).parent.mkdir(parents=True)
    (root / VICTIM).symlink_to(outside)
    assert verify("hdfs", root, files=VICTIM) == [
        f"{VICTIM}: a symbolic link out of the data directory (to {outside.resolve()}); expected a file inside it"]
    report = download("hdfs", root, base_url=mirror.url, files=VICTIM, **FAST)
    assert report.fetched == [VICTIM] and mirror.requests[VICTIM] == 1
    assert not (root / VICTIM).is_symlink() and _same_as_original(root, data_dir, VICTIM)
    assert outside.read_bytes() == (data_dir / VICTIM).read_bytes()
    assert verify("hdfs", root, files=VICTIM) == []


def test_a_folder_linked_out_of_the_data_directory_is_never_written(mirror, tmp_path):
    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "hdfs_anomaly").symlink_to(elsewhere)
    with pytest.raises(DownloadError) as caught:
        download("hdfs", root, base_url=mirror.url, files=VICTIM, **FAST)
    (sub,) = caught.value.errors
    assert str(sub).startswith(str(root.resolve() / VICTIM)) and "refused" in str(sub)
    assert str(elsewhere.resolve()) in str(sub) and "outside the data directory" in str(sub)
    assert list(elsewhere.iterdir()) == [] and mirror.requests[VICTIM] == 0


def test_a_stalled_attempt_is_retried_from_the_first_byte(mirror, data_dir, tmp_path):
    """There is no resume: the retry fetches the whole file again, nothing of the stalled
    attempt is kept (the mirror ignores Range, so a resumed body would not verify)."""
    mirror.faults[VICTIM] = {"stall_after": 70_000, "times": 1}
    events = []
    report = download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, retries=1, backoff=0.0,
                      timeout=0.5, progress=lambda *event: events.append(event))
    assert report.fetched == [VICTIM] and mirror.requests[VICTIM] == 2
    assert _same_as_original(tmp_path, data_dir, VICTIM) and _leftovers(tmp_path) == []
    statuses = [e[1] for e in events]
    retry = statuses.index("retry")
    assert any(e[1] == "fetching" and e[2] >= CHUNK_SIZE for e in events[:retry])  # bytes came, then the stall
    assert next(e for e in events[retry:] if e[1] == "fetching")[2] <= CHUNK_SIZE  # counted from zero again


def test_a_corrupt_file_is_gone_even_when_its_fetch_is_interrupted(mirror, tmp_path):
    victim = tmp_path / VICTIM
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"x" * SIZE)  # the right size, the wrong bytes

    def interrupt(path, status, done, total):
        if status == "fetching":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, progress=interrupt, **FAST)
    assert not victim.exists() and _leftovers(tmp_path) == []


_CHILD = ("import sys\n"
          "from rlog_env.datasets.download import download\n"
          "download('hdfs', sys.argv[1], base_url=sys.argv[2], files=sys.argv[3], retries=0, timeout=60)\n")


def test_a_download_killed_outright_leaves_nothing_that_could_pass(mirror, data_dir, tmp_path):
    """SIGKILL runs no cleanup: the killed download leaves its hidden part file, never a file at
    the final path; the next run deletes the part file nobody holds, and completes."""
    mirror.faults[VICTIM] = {"stall_after": 70_000}  # the child is mid-body when it is killed
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), mirror.url, VICTIM],
                             env={**os.environ, "no_proxy": "*", "NO_PROXY": "*"})
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size >= CHUNK_SIZE for p in _leftovers(tmp_path)):
            assert child.poll() is None, "the download ended before it could be killed"
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    (part,) = _leftovers(tmp_path)
    assert part.parent == (tmp_path / VICTIM).parent and part.name.startswith(".hdfs_train.")
    assert not (tmp_path / VICTIM).exists()
    assert verify("hdfs", tmp_path, files=VICTIM) == [f"{VICTIM}: missing"]

    del mirror.faults[VICTIM]
    report = download("hdfs", tmp_path, base_url=mirror.url, files=VICTIM, **FAST)
    assert report.fetched == [VICTIM] and _same_as_original(tmp_path, data_dir, VICTIM)
    assert _leftovers(tmp_path) == []


def test_a_part_file_still_being_written_is_not_taken_for_stale(tmp_path):
    dest = tmp_path / "hdfs_anomaly" / "hdfs_train"
    dest.parent.mkdir()
    live, stale = dest.parent / ".hdfs_train.live1234.part", dest.parent / ".hdfs_train.dead5678.part"
    other = dest.parent / ".hdfs_test_abnormal.dead9999.part"  # another file's: not this one's to judge
    for path in (live, stale, other):
        path.write_bytes(b"partial")
    with open(live, "rb") as held:  # a live download holds a lock on its part file
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert remove_stale_parts(dest) == [stale]
    assert live.exists() and other.exists() and not stale.exists()
