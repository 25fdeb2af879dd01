"""HDFS block sessions for session-level anomaly detection (Xu et al., SOSP 2009; via logdeep).

Layout: ``hdfs_anomaly/hdfs_train`` (normal sessions), ``hdfs_anomaly/hdfs_test_abnormal``
(anomalous sessions), one space-separated sequence of event ids per line, and
``hdfs_anomaly/robust_log_{train,valid}.csv`` (``Sequence,label``, 1 = anomalous), plus
``hdfs_anomaly/HDFS_templates.csv``, the full-log LogHub templates whose ``E<n>`` numbering the
sequences use (the 2k sample's templates number differently).

The labelled data has event ids only, so each session is rendered as log text: every event
through a message format that fits its LogHub template, with values (block id, datanode ips,
ports, sizes, paths, thread ids, timestamps) drawn from one fixed-seed generator over the
de-duplicated sessions, so a session always reads the same. A block's session names one block
and its three replica datanodes throughout, as in the real log.

The four files share many sequences (robust_log's train and valid files share hundreds), so
sequences are de-duplicated across files before the split; a sequence labelled both normal and
anomalous somewhere is left out (one such sequence in the shipped files) and counted in
``CONFLICTS``. Splits are by the sequence's content.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from rlog_env.datasets.base import DataError, content_split, read_csv, read_lines
from rlog_env.tasks import Sample
from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

NAME = "hdfs"
TASKS = ("anomaly_detection",)
DOMAIN = "HDFS"
FOLDER = "hdfs_anomaly"
SEQUENCE_FILES = {"hdfs_train": NORMAL, "hdfs_test_abnormal": ABNORMAL}
LABELLED_FILES = ("robust_log_train.csv", "robust_log_valid.csv")
TEMPLATES = "HDFS_templates.csv"

# Event id -> (level, component, message format). Fields: {blk} the session's block, {ip} and
# {peer} datanodes, {port} a client port, {size} a block size, {n} a small number, {path} a
# file being written, {subdir} a data directory, {off1}/{off2}/{off3} offsets.
EVENTS: dict[int, tuple[str, str, str]] = {
    1: ("INFO", "dfs.DataNode$DataXceiver", "{ip}:50010:Adding an already existing block {blk}"),
    2: ("INFO", "dfs.DataBlockScanner", "Verification succeeded for {blk}"),
    3: ("INFO", "dfs.DataNode$DataXceiver", "{ip}:50010 Served block {blk} to /{peer}"),
    4: ("WARN", "dfs.DataNode$DataXceiver", "{ip}:50010:Got exception while serving {blk} to /{peer}:"),
    5: ("INFO", "dfs.DataNode$DataXceiver", "Receiving block {blk} src: /{peer}:{port} dest: /{ip}:50010"),
    6: ("INFO", "dfs.DataNode$DataXceiver", "Received block {blk} src: /{peer}:{port} dest: /{ip}:50010 of size {size}"),
    7: ("INFO", "dfs.DataNode$DataXceiver", "writeBlock {blk} received exception java.io.IOException: Could not read from stream"),
    8: ("INFO", "dfs.DataNode$PacketResponder", "PacketResponder {n} for block {blk} Interrupted."),
    9: ("INFO", "dfs.DataNode$PacketResponder", "Received block {blk} of size {size} from /{peer}"),
    10: ("INFO", "dfs.DataNode$PacketResponder", "PacketResponder {blk} {n} Exception java.io.IOException: Connection reset by peer"),
    11: ("INFO", "dfs.DataNode$PacketResponder", "PacketResponder {n} for block {blk} terminating"),
    12: ("INFO", "dfs.DataNode$DataXceiver", "{ip}:50010:Exception writing block {blk} to mirror {peer}:50010"),
    13: ("INFO", "dfs.DataNode$BlockReceiver", "Receiving empty packet for block {blk}"),
    14: ("INFO", "dfs.DataNode$BlockReceiver", "Exception in receiveBlock for block {blk} java.io.IOException: Connection reset by peer"),
    15: ("INFO", "dfs.DataNode$BlockReceiver", "Changing block file offset of block {blk} from {off1} to {off2} meta file offset to {off3}"),
    16: ("INFO", "dfs.DataNode$DataTransfer", "{ip}:50010:Transmitted block {blk} to /{peer}:50010"),
    17: ("WARN", "dfs.DataNode", "{ip}:50010:Failed to transfer {blk} to {peer}:50010 got java.net.SocketException: Connection reset"),
    18: ("INFO", "dfs.DataNode", "{ip}:50010 Starting thread to transfer block {blk} to {peer}:50010"),
    19: ("INFO", "dfs.FSDataset", "Reopen Block {blk}"),
    20: ("WARN", "dfs.FSDataset", "Unexpected error trying to delete block {blk}. BlockInfo not found in volumeMap."),
    21: ("INFO", "dfs.FSDataset", "Deleting block {blk} file /mnt/hadoop/dfs/data/current/subdir{subdir}/{blk}"),
    22: ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.allocateBlock: {path}. {blk}"),
    23: ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.delete: {blk} is added to invalidSet of {ip}:50010"),
    24: ("INFO", "dfs.FSNamesystem", "BLOCK* Removing block {blk} from neededReplications as it does not belong to any file."),
    25: ("INFO", "dfs.FSNamesystem", "BLOCK* ask {ip}:50010 to replicate {blk} to datanode(s) {peer}:50010"),
    26: ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:50010 is added to {blk} size {size}"),
    27: ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received for {blk} on {ip}:50010 size {size}"),
    28: ("INFO", "dfs.FSNamesystem", "BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for {blk} on {ip}:50010 size {size} But it does not belong to any file."),
    29: ("WARN", "dfs.PendingReplicationMonitor", "PendingReplicationMonitor timed out block {blk}"),
    30: ("INFO", "dfs.FSNamesystem", "BLOCK* ask {ip}:50010 to delete  {blk}"),
}
BLOCK_SIZE = 67108864
CONFLICTS: dict[Path, int] = {}  # data root -> sequences left out for contradictory labels


def _parse_sequence(path: Path, line: int, text: str) -> tuple[int, ...]:
    try:
        events = tuple(map(int, text.split()))
    except ValueError:
        raise DataError(path, f"expected space-separated integer event ids, found {text[:80]!r}", line=line) from None
    if not events:
        raise DataError(path, "expected a sequence of event ids, found an empty line", line=line)
    unknown = sorted({e for e in events if e not in EVENTS})
    if unknown:
        raise DataError(path, f"event id(s) {unknown} are not HDFS templates; expected ids 1..{len(EVENTS)} "
                              f"(E1..E{len(EVENTS)} of {TEMPLATES})", line=line)
    return events


def _read_plain(path: Path, root: Path) -> list[tuple[int, tuple[int, ...]]]:
    lines = read_lines(path, root, "a session: space-separated event ids")
    return [(i, _parse_sequence(path, i, raw)) for i, raw in enumerate(lines, start=1)]


_EXAMPLE_VALUES = dict(blk="blk_-1608999687919862906", ip="10.251.42.84", peer="10.251.31.5",
                       port=50232, size=67108864, n=1, path="/user/root/rand/part-00590",
                       subdir=17, off1=1024, off2=2048, off3=16)


def check_templates(root: Path) -> dict[int, re.Pattern]:
    """The full-log HDFS templates as regexes, checked against :data:`EVENTS`: every event id
    E1..E30 must exist, and every event's message must match the template of its own id (so a
    file numbered like the 2k sample's templates is rejected at the first row that differs)."""
    path = root / FOLDER / TEMPLATES
    patterns: dict[int, re.Pattern] = {}
    lines: dict[int, int] = {}
    for line, row in read_csv(path, root, ("EventId", "EventTemplate")):
        match = re.fullmatch(r"E(\d+)", row["EventId"])
        if not match:
            raise DataError(path, f"expected an EventId like E5, found {row['EventId']!r}", line=line)
        if int(match.group(1)) in lines:
            raise DataError(path, f"{row['EventId']} appears again (first on line {lines[int(match.group(1))]}); "
                                  "expected each EventId once", line=line)
        parts = [re.escape(p) for p in row["EventTemplate"].split("<*>")]
        patterns[int(match.group(1))] = re.compile("(.*?)".join(parts), re.DOTALL)
        lines[int(match.group(1))] = line
    if sorted(patterns) != sorted(EVENTS):
        raise DataError(path, f"expected the full-log templates E1..E{len(EVENTS)}, found "
                              f"{len(patterns)} ids; the 2k sample's templates number differently")
    for event, (_, _, message) in sorted(EVENTS.items()):
        if not patterns[event].fullmatch(message.format(**_EXAMPLE_VALUES)):
            raise DataError(path, f"E{event} does not describe the HDFS_v1 event the sequences call "
                                  f"{event} ({message.split('{')[0].strip() or message[:40]!r}...); "
                                  "expected the full-log templates (the 2k sample's number differently)",
                            line=lines[event])
    return patterns


@lru_cache(maxsize=None)
def labelled_sequences(root: Path) -> tuple[tuple[tuple[int, ...], str], ...]:
    """Every distinct sequence with its label, in first-seen order over the four files."""
    folder = root / FOLDER
    labels: dict[tuple[int, ...], str] = {}
    conflicting: set[tuple[int, ...]] = set()

    def add(sequence: tuple[int, ...], label: str) -> None:
        if labels.setdefault(sequence, label) != label:
            conflicting.add(sequence)

    for name, label in SEQUENCE_FILES.items():
        for _, sequence in _read_plain(folder / name, root):
            add(sequence, label)
    for name in LABELLED_FILES:
        path = folder / name
        for line, row in read_csv(path, root, ("Sequence", "label")):
            if row["label"] not in ("0", "1"):
                raise DataError(path, f"expected label 0 (normal) or 1 (anomalous), found {row['label']!r}", line=line)
            add(_parse_sequence(path, line, row["Sequence"]), NORMAL if row["label"] == "0" else ABNORMAL)
    CONFLICTS[root] = len(conflicting)
    return tuple((s, label) for s, label in labels.items() if s not in conflicting)


def _sequence_key(sequence: tuple[int, ...]) -> str:
    return " ".join(map(str, sequence))


RENDER_SEED = 20081109  # the first day of the HDFS_v1 log


def render_sessions(sequences: list[tuple[int, ...]]) -> list[str]:
    """Every session as HDFS log lines, the same text every time for the same sequences.

    One generator, seeded by :data:`RENDER_SEED`, draws all values in a few vectorised calls
    (a generator per session made loading take seconds); session ``i`` reads its own slice.
    """
    rng = np.random.default_rng(np.random.SeedSequence(RENDER_SEED))
    n = len(sequences)
    blocks = rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64).tolist()
    octets = np.stack([rng.integers(250, 252, size=(n, 3)), rng.integers(0, 256, size=(n, 3)),
                       rng.integers(1, 254, size=(n, 3))], axis=-1)
    # Three distinct replicas per block: the last octets of replicas 2 and 3 are offsets from
    # the first that can neither be 0 nor equal each other.
    first = octets[:, 0, 2]
    second_offset = rng.integers(1, 253, size=n)
    third_offset = rng.integers(1, 252, size=n)
    third_offset += third_offset >= second_offset
    octets[:, 1, 2] = (first - 1 + second_offset) % 253 + 1
    octets[:, 2, 2] = (first - 1 + third_offset) % 253 + 1
    octets = octets.tolist()
    stamps = rng.integers(0, 3 * 24 * 60, size=n).tolist()
    tasks = rng.integers(0, 2000, size=n).tolist()
    jobs = rng.integers(1, 30, size=n).tolist()
    folders = rng.integers(0, 10, size=n).tolist()
    full_size = (rng.random(size=n) < 0.8).tolist()
    sizes = rng.integers(1000, BLOCK_SIZE, size=n).tolist()
    starts = rng.integers(20 * 3600, 24 * 3600, size=n).tolist()
    total = sum(map(len, sequences))
    short_gaps = rng.integers(0, 4, size=total).tolist()
    long_gaps = rng.integers(30, 900, size=total).tolist()
    threads = rng.integers(1, 600, size=total).tolist()  # the thread ids of the real log are small
    ports = rng.integers(30000, 60000, size=total).tolist()
    small = rng.integers(0, 3, size=total).tolist()
    subdirs = rng.integers(0, 64, size=total).tolist()
    offsets = rng.integers(0, BLOCK_SIZE, size=(total, 3)).tolist()
    out, k = [], 0
    for i, sequence in enumerate(sequences):
        block = f"blk_{blocks[i]}"
        replicas = [f"10.{a}.{b}.{c}" for a, b, c in octets[i]]
        day, minute = divmod(stamps[i], 1440)
        job = f"200811{9 + day:02d}{minute // 60:02d}{minute % 60:02d}_{jobs[i]:04d}"
        path = (f"/user/root/rand{folders[i] or ''}/_temporary/_task_{job}_m_{tasks[i]:06d}_0/"
                f"part-{tasks[i]:05d}")
        size = BLOCK_SIZE if full_size[i] else sizes[i]
        clock = starts[i]  # seconds since 2008-11-09 00:00
        lines = []
        for position, event in enumerate(sequence):
            level, component, message = EVENTS[event]
            clock += long_gaps[k] if event in (21, 23, 30) else short_gaps[k]
            day, seconds = divmod(clock, 86400)
            stamp = f"0811{9 + day:02d} {seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
            peer = replicas[small[k]] if event in (5, 6) else replicas[(position + 1) % 3]
            text = message.format(
                blk=block, ip=replicas[position % 3], peer=peer, port=ports[k], size=size,
                n=small[k], path=path, subdir=subdirs[k], off1=offsets[k][0], off2=offsets[k][1],
                off3=offsets[k][2] // 128,
            )
            lines.append(f"{stamp} {threads[k]} {level} {component}: {text}")
            k += 1
        out.append("\n".join(lines))
    return out


@lru_cache(maxsize=None)
def load_samples(root: Path, task: str) -> tuple[Sample, ...]:
    """One anomaly-detection sample per distinct session, rendered as log text."""
    check_templates(root)
    labelled = labelled_sequences(root)
    texts = render_sessions([sequence for sequence, _ in labelled])
    samples = []
    for number, ((sequence, label), text) in enumerate(zip(labelled, texts)):
        key = _sequence_key(sequence)
        samples.append(Sample(
            task="anomaly_detection", domain=DOMAIN, logs=text, reference=label,
            instruction="Decide whether the following HDFS block session (all log lines of one "
                        "block) is normal or abnormal.",
            meta={"source": NAME, "split": content_split(key), "id": f"{NAME}/{number}",
                  "events": len(sequence)},
        ))
    return tuple(samples)


def clear_cache() -> None:
    """Forget every file this module has read (the sources call it when a load fails)."""
    for cached in (labelled_sequences, load_samples):
        cached.cache_clear()


def domains(root: Path, task: str) -> tuple[str, ...]:
    """HDFS has one domain."""
    return (DOMAIN,)
