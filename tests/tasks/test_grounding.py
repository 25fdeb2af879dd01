"""The fact-grounded reward scheme: facts earn credit, invented specifics cost, copying the
log window does not pay."""

from __future__ import annotations

import pytest

from rlog_env.tasks import get_task
from rlog_env.tasks.grounding import CLAIM_PENALTY, claims, grounded_score, states

LOGS = """\
220320 182333 497 WARN dfs.FSDataset: Volume /data1/dfs/dn is 98% full, free space below the reserved threshold
220320 182333 191 ERROR dfs.DataNode$DataXceiver: writeBlock blk_-4130631104095766472 received exception java.io.IOException: No space left on device
220320 182334 155 WARN dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-4130631104095766472 Interrupted.
220320 182336 399 INFO dfs.DataNode$DataXceiver: Receiving block blk_-6158791073279247503 src: /10.79.108.211:43048 dest: /10.116.34.103:50010
220320 182339 304 INFO dfs.FSNamesystem: BLOCK* ask 10.52.67.191:50010 to replicate blk_-4130631104095766472 to datanode(s) 10.116.34.103:50010"""
REFERENCE = ("The data volume /data1/dfs/dn on DataNode 10.116.34.103 ran out of free space (98% used), "
             "so the DataNode cannot write new block replicas.")
FACTS = (("10.116.34.103",), ("/data1/dfs/dn",), ("98%",),
         ("No space left on device", "disk full", "ran out of free space", "out of disk space"))
CORRECT = "DataNode 10.116.34.103 is out of disk space: /data1/dfs/dn is 98% full, so block writes fail."
INVENTED = ("DataNode 10.116.34.103 is out of disk space: /data1/dfs/dn is 98% full after a 45 GB "
            "log burst, so block writes fail.")


def answer(text: str) -> str:
    return f"<think>Read the warnings and errors in order.</think><answer>{text}</answer>"


@pytest.fixture
def task():
    return get_task("root_cause_analysis", reward="grounded")


def test_reference_earns_the_top(task):
    reward = task.score(answer(REFERENCE), REFERENCE, LOGS, FACTS)
    assert reward.total == pytest.approx(1.35, abs=1e-12) and reward.format == 0.1
    assert reward.details["facts_stated"] == 4 and reward.details["invented_claims"] == 0


def test_correct_facts_beat_a_fluent_invented_number(task):
    correct = task.score(answer(CORRECT), REFERENCE, LOGS, FACTS)
    invented = task.score(answer(INVENTED), REFERENCE, LOGS, FACTS)
    assert correct.details["facts_stated"] == invented.details["facts_stated"] == 4
    assert invented.details["invented_claims"] == 1  # "45 GB" is in neither logs nor reference
    assert correct.total > invented.total
    assert correct.answer - invented.answer == pytest.approx(CLAIM_PENALTY / 0.8)


def test_copying_the_window_does_not_beat_a_concise_correct_answer(task):
    copied = task.score(answer(LOGS), REFERENCE, LOGS, FACTS)
    correct = task.score(answer(CORRECT), REFERENCE, LOGS, FACTS)
    assert copied.details["facts_stated"] == 4  # the window states every fact...
    assert copied.details["concision"] < 1.0  # ...but at five times the length
    assert copied.total < correct.total


def test_a_vague_answer_earns_little(task):
    vague = task.score(answer("Something went wrong with a server, probably the disk."), REFERENCE, LOGS, FACTS)
    correct = task.score(answer(CORRECT), REFERENCE, LOGS, FACTS)
    assert vague.details["facts_stated"] == 0 and vague.answer == 0.0 < correct.answer


def test_the_rlog_range_and_format_rules_hold(task):
    assert task.reward_range == (-2.0, 1.35)
    assert task.score("", REFERENCE, LOGS, FACTS).total == -2.0
    assert task.score("no tags", REFERENCE, LOGS, FACTS).total == -2.0
    assert task.score(answer(""), REFERENCE, LOGS, FACTS).total == pytest.approx(-0.9)


def test_parsing_and_anomaly_detection_keep_the_rlog_answer_reward():
    for name, reference, logs, good in [
        ("anomaly_detection", "abnormal", "x", "abnormal"),
        ("log_parsing", "Receiving block <*>", "Receiving block blk_1", "Receiving block <*>"),
    ]:
        grounded, rlog = get_task(name, reward="grounded"), get_task(name)
        for text in (good, "normal", "Receiving <*>"):
            assert grounded.score(answer(text), reference, logs).total == rlog.score(answer(text), reference, logs).total


def test_without_facts_grounded_refuses_clearly(task):
    with pytest.raises(ValueError, match="source='sim'"):
        task.score(answer(CORRECT), REFERENCE, LOGS)


def test_facts_match_whole_words_in_any_case():
    assert states("the volume is 98% full", ("98%",))
    assert not states("the volume is 198% full", ("98%",))
    assert states("DISK FULL on the node", ("No space left on device", "disk full"))
    assert not states("ENOSPCX", ("ENOSPC",))
    assert states("path /data1/dfs/dn.", ("/data1/dfs/dn",))


def test_claims_are_the_specific_values():
    found = claims("Node 10.1.2.3:50010 failed after 30000ms with ENOSPC; 98% used on blk_-123 by "
                   "org.apache.hadoop.hdfs.DataNode (AH00526), about 2 GB")
    assert found == ["10.1.2.3:50010", "30000ms", "ENOSPC", "98%", "blk_-123",
                     "org.apache.hadoop.hdfs.DataNode", "AH00526", "2 GB"]
    assert claims("the disk is full and the node is down") == []


def test_score_is_in_unit_interval():
    for text in ("", "x", CORRECT, INVENTED, LOGS * 3, "1ms 2ms 3ms 4ms 5ms 10.0.0.1"):
        g = grounded_score(text, REFERENCE, LOGS, FACTS)
        assert 0.0 <= g.score <= 1.0
