"""The OpenAI-compatible agent under a misbehaving server, with many episodes at once.

A real HTTP server on loopback (openai_loopback.py) answers each episode by a fault assigned
to it with a seeded shuffle: rate limits (429, with and without ``Retry-After``, in seconds and
as an HTTP date), server errors (500), connection resets (TCP RST), stalls (accepts and never
answers), answers slower than the timeout, and bodies trickled a byte at a time past it; some
faults clear after one failure, some never do. Every other episode must keep going and finish,
each episode must reach the server exactly as often as the retry budget allows, and each
failure must end up on its own episode: in the agent's ``last_errors_`` and, through the
evaluation runner, in the episode's ``error`` field, scored as a failed answer.
"""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import gymnasium as gym
import pytest
from openai_loopback import RESET, Trickle, completion, observations

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents.base import Observation
from rlog_env.agents.openai_agent import MAX_RESPONSE_BYTES, OpenAIAgent
from rlog_env.leaderboard.results import read_results
from rlog_env.leaderboard.runner import evaluate

TIMEOUT = 0.5
RETRIES = 2  # so a request reaches the server at most 3 times

# fault -> (what the server does on a failing hit, failing hits before it answers (None: never),
#           the text the final error must hold)
FAULTS = {
    "ok": (None, 0, None),
    "429": ((429, {"error": "slow down"}, 0), 1, None),
    "429-retry-after": ((429, {"error": "slow down"}, 0, {"Retry-After": "1"}), 1, None),
    "429-http-date": ((429, {"error": "slow down"}, 0, "date"), 1, None),
    "500": ((500, {"error": {"message": "overloaded"}}, 0), 1, None),
    "reset": ((200, RESET, 0), 1, None),
    "stall": ((200, completion("late"), None), 1, None),
    "slow": ((200, completion("late"), TIMEOUT + 0.4), 1, None),
    "429!": ((429, {"error": "slow down"}, 0), None, "HTTP 429"),
    "500!": ((500, {"error": {"message": "down"}}, 0), None, "HTTP 500"),
    "reset!": ((200, RESET, 0), None, "connection error"),
    "stall!": ((200, completion("late"), None), None, f"timed out after {TIMEOUT:g}s"),
    "trickle!": ((200, Trickle(b"x" * 400, 0.05), 0), None, f"timed out after {TIMEOUT:g}s"),
}


def answer_for(content: str) -> str:
    return f"<think>read it</think><answer>{content}</answer>"


def faulty(assignment: dict[str, str]):
    """A behaviour: each user message content fails as its fault says, then answers."""

    def behave(server, body):
        content = body["messages"][-1]["content"]
        failure, failing_hits, _ = FAULTS[assignment[content]]
        if failure is not None and (failing_hits is None or server.count(content) <= failing_hits):
            if len(failure) > 3 and failure[3] == "date":  # Retry-After as an HTTP date, 2 s ahead
                return (*failure[:3], {"Retry-After": formatdate(time.time() + 2, usegmt=True)})
            return failure
        return 200, completion(answer_for(content)), 0

    return behave


def expected_hits(fault: str) -> int:
    _, failing_hits, _ = FAULTS[fault]
    return RETRIES + 1 if failing_hits is None else failing_hits + 1


def assign(contents: list[str], seed: int) -> dict[str, str]:
    """Each content its fault: every fault as often as the others, in a seeded order."""
    kinds = [list(FAULTS)[i % len(FAULTS)] for i in range(len(contents))]
    random.Random(seed).shuffle(kinds)
    return dict(zip(contents, kinds))


def test_sixty_concurrent_episodes_under_every_fault(serve):
    batch = observations(65)
    contents = [o.messages[-1]["content"] for o in batch]
    assignment = assign(contents, seed=8)
    server = serve(faulty(assignment))
    agent = OpenAIAgent("m", server.base_url, max_concurrency=16, timeout=TIMEOUT, retries=RETRIES,
                        backoff=0.05)
    started = time.perf_counter()
    answers = agent.act(batch)
    elapsed = time.perf_counter() - started

    for i, content in enumerate(contents):
        fault = assignment[content]
        must_fail = FAULTS[fault][2]
        assert server.count(content) == expected_hits(fault), (fault, server.count(content))
        assert agent.last_attempts_[i] == expected_hits(fault)
        if must_fail:
            assert answers[i] == "", fault
            assert must_fail in agent.last_errors_[i] and f"attempt {RETRIES + 1} of {RETRIES + 1}" in agent.last_errors_[i]
        else:
            assert answers[i] == answer_for(content), fault
            assert agent.last_errors_[i] is None, (fault, agent.last_errors_[i])
    # The retry budget holds: no episode reaches the server more than retries + 1 times.
    assert len(server.requests) == sum(expected_hits(assignment[c]) for c in contents)
    # Retry-After is honoured (1 s; the HTTP date 2 s ahead, to the second).
    for content in contents:
        gap = None if server.count(content) < 2 else server.arrivals[content][1] - server.arrivals[content][0]
        if assignment[content] == "429-retry-after":
            assert gap >= 0.95
        if assignment[content] == "429-http-date":
            assert gap >= 0.95
    # Stalls and trickles hold their own thread only: the 65 episodes together take about as
    # long as the slowest one (3 attempts of 0.5 s, or a 2 s Retry-After), not their sum.
    slowest_alone = (RETRIES + 1) * TIMEOUT
    assert elapsed < 6.0, f"{elapsed:.1f}s"
    print(f"\n65 episodes, 13 faults, 16 at a time: {elapsed:.2f}s "
          f"({len(server.requests)} requests; one stalled episode alone takes >= {slowest_alone:.1f}s)")


def test_a_trickled_answer_is_cut_at_the_deadline(serve):
    # One byte every 0.1 s never trips a per-read timeout of 0.4 s: only a deadline on the
    # whole attempt ends it (without one the answer arrives after 40 s and "succeeds").
    server = serve(lambda s, body: (200, Trickle(b"y" * 400, 0.1), 0))
    agent = OpenAIAgent("m", server.base_url, timeout=0.4, retries=0)
    started = time.perf_counter()
    assert agent.act(observations(1)) == [""]
    elapsed = time.perf_counter() - started
    assert "timed out after 0.4s" in agent.last_errors_[0]
    assert 0.35 < elapsed < 1.5, f"{elapsed:.2f}s"


def test_retry_after_is_capped_by_max_retry_wait(serve):
    def limited(server, body):
        if server.count(body["messages"][-1]["content"]) == 1:
            return 429, {"error": "come back in an hour"}, 0, {"Retry-After": "3600"}
        return 200, completion("ok"), 0

    server = serve(limited)
    agent = OpenAIAgent("m", server.base_url, retries=1, backoff=0.01, max_retry_wait=0.2)
    started = time.perf_counter()
    assert agent.act(observations(1)) == ["ok"]
    assert 0.15 < time.perf_counter() - started < 2.0
    with pytest.raises(ValueError, match="max_retry_wait"):
        OpenAIAgent("m", server.base_url, max_retry_wait=-1).act(observations(1))


def test_an_oversized_body_is_refused_and_not_retried(serve):
    big = b'{"choices": [{"message": {"content": "' + b"z" * MAX_RESPONSE_BYTES + b'"}}]}'
    server = serve(lambda s, body: (200, big, 0))
    agent = OpenAIAgent("m", server.base_url, retries=2, backoff=0.01)
    assert agent.act(observations(1)) == [""]
    assert "response larger than 32 MiB" in agent.last_errors_[0]
    assert len(server.requests) == 1


def test_the_runner_records_each_failure_on_its_own_episode(serve, tmp_path):
    env_id, episodes = "RLog/AnomalyDetection-v0", 26
    env = gym.make(env_id, split="test", domains=["seen", "unseen"])  # what the runner shows
    contents = [Observation.from_reset(*env.reset(options={"index": i})).messages[-1]["content"]
                for i in range(episodes)]
    assert len(set(contents)) == episodes
    assignment = assign(contents, seed=3)
    server = serve(faulty(assignment))
    agent = OpenAIAgent("m", server.base_url, max_concurrency=8, timeout=TIMEOUT, retries=RETRIES,
                        backoff=0.05, name="faulty-server")
    frame = evaluate([agent], [env_id], episodes=episodes, run_dir=tmp_path / "run", batch_size=13)
    assert len(frame) == episodes  # nothing dropped, the run did not crash
    records = {r["index"]: r for r in read_results(tmp_path / "run")}
    assert sorted(records) == list(range(episodes))
    failed = 0
    for index, record in records.items():
        fault = assignment[contents[index]]
        must_fail = FAULTS[fault][2]
        assert server.count(contents[index]) == expected_hits(fault)
        if must_fail:
            failed += 1
            assert must_fail in record["error"], (fault, record["error"])
            assert record["answer"] == "" and record["reward"]["total"] == -2.0  # scored as failed
        else:
            assert record["error"] is None, (fault, record["error"])
            assert record["answer"] == answer_for(contents[index])
    assert failed == sum(1 for c in contents if FAULTS[assignment[c]][2])
    assert failed >= 5
