"""The OpenAI-compatible agent against a real HTTP server on loopback.

The server (openai_loopback.py, the ``serve`` fixture of conftest.py) is
``http.server.ThreadingHTTPServer`` on 127.0.0.1 (port 0) serving ``POST /v1/chat/completions``;
each test gives it a behaviour: answer, delay, fail, stall. Faults under load:
test_openai_faults.py.
"""

from __future__ import annotations

import json
import socket
import time

import gymnasium as gym
import pytest
from openai_loopback import completion, echo, observations

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents.base import Observation
from rlog_env.agents.openai_agent import OpenAIAgent

KEY_ENV = "RLOG_TEST_OPENAI_KEY"


def test_answers_in_order_with_messages_usage_and_bearer_key(serve, monkeypatch):
    server = serve(echo)
    monkeypatch.setenv(KEY_ENV, "sk-test-secret-123")
    agent = OpenAIAgent("test-model", server.base_url, api_key_env=KEY_ENV, temperature=0.0,
                        max_tokens=64, max_concurrency=4)
    answers = agent.act(observations(10))
    assert answers == [f"<think>read it</think><answer>question {i}</answer>" for i in range(10)]
    assert agent.last_errors_ == [None] * 10
    assert agent.last_usage_[0] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert all(h.get("Authorization") == "Bearer sk-test-secret-123" for h in server.headers)
    request = server.requests[0]
    assert request["model"] == "test-model"
    assert request["temperature"] == 0.0 and request["max_tokens"] == 64
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    # The key is read at act time and never kept on the agent.
    assert "sk-test-secret-123" not in repr(agent)
    assert "sk-test-secret-123" not in json.dumps(agent.get_params(), default=str)
    assert "sk-test-secret-123" not in json.dumps(vars(agent), default=str)
    monkeypatch.setenv(KEY_ENV, "sk-rotated")
    agent.act(observations(1))
    assert server.headers[-1]["Authorization"] == "Bearer sk-rotated"


def test_no_key_in_the_environment_sends_no_authorization(serve, monkeypatch):
    server = serve(echo)
    monkeypatch.delenv(KEY_ENV, raising=False)
    agent = OpenAIAgent("m", server.base_url + "/", api_key_env=KEY_ENV)  # trailing slash is fine
    assert agent.act(observations(2))[1].endswith("<answer>question 1</answer>")
    assert all("Authorization" not in h for h in server.headers)


def test_observation_from_an_environment_is_sent_as_chat_messages(serve):
    server = serve(echo)
    env = gym.make("RLog/AnomalyDetection-v0")
    observation = Observation.from_reset(*env.reset(seed=3))
    answers = OpenAIAgent("m", server.base_url).act([observation])
    sent = server.requests[0]["messages"]
    assert sent == [dict(m) for m in observation.messages]
    assert sent[0]["role"] == "system" and sent[-1]["role"] == "user"
    assert answers[0].endswith("</answer>") and observation.logs.splitlines()[0] in answers[0]


def test_concurrency_is_bounded(serve):
    server = serve(lambda s, body: (200, completion("ok"), 0.05))
    agent = OpenAIAgent("m", server.base_url, max_concurrency=3)
    assert agent.act(observations(24)) == ["ok"] * 24
    assert server.max_in_flight == 3


def test_concurrent_requests_are_much_faster_than_one_at_a_time(serve):
    server = serve(lambda s, body: (200, completion("ok"), 0.1))
    batch = observations(32)
    started = time.perf_counter()
    assert OpenAIAgent("m", server.base_url, max_concurrency=1).act(batch) == ["ok"] * 32
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    assert OpenAIAgent("m", server.base_url, max_concurrency=32).act(batch) == ["ok"] * 32
    concurrent = time.perf_counter() - started
    ratio = sequential / concurrent
    print(f"\n32 requests at 100 ms: one at a time {sequential:.2f}s, 32 at a time {concurrent:.2f}s, "
          f"{ratio:.1f}x faster")
    assert sequential >= 3.2
    assert ratio >= 5


def test_server_error_then_success_is_retried(serve):
    def flaky(server, body):
        content = body["messages"][-1]["content"]
        if server.count(content) == 1:
            return 500, {"error": {"message": "overloaded"}}, 0
        return echo(server, body)

    server = serve(flaky)
    agent = OpenAIAgent("m", server.base_url, retries=3, backoff=0.01)
    answers = agent.act(observations(5))
    assert answers == [f"<think>read it</think><answer>question {i}</answer>" for i in range(5)]
    assert agent.last_errors_ == [None] * 5
    assert agent.last_attempts_ == [2] * 5
    assert len(server.requests) == 10


def test_rate_limit_with_retry_after_is_retried(serve):
    def limited(server, body):
        if server.count(body["messages"][-1]["content"]) == 1:
            return 429, {"error": "slow down"}, 0
        return echo(server, body)

    server = serve(limited)
    agent = OpenAIAgent("m", server.base_url, retries=1, backoff=0.01)
    assert agent.act(observations(2))[0].endswith("<answer>question 0</answer>")
    assert agent.last_attempts_ == [2, 2]


def test_a_server_that_always_fails_gives_empty_answers_and_recorded_errors(serve):
    def half_broken(server, body):
        content = body["messages"][-1]["content"]
        if content in ("question 1", "question 3"):
            return 503, {"error": "down"}, 0
        return echo(server, body)

    server = serve(half_broken)
    agent = OpenAIAgent("m", server.base_url, retries=2, backoff=0.01)
    answers = agent.act(observations(5))
    assert answers[1] == "" and answers[3] == ""
    assert answers[0].endswith("<answer>question 0</answer>") and answers[4].endswith("<answer>question 4</answer>")
    assert agent.last_errors_[0] is None and agent.last_errors_[2] is None
    assert "HTTP 503" in agent.last_errors_[1] and "attempt 3 of 3" in agent.last_errors_[1]
    assert agent.last_attempts_ == [1, 3, 1, 3, 1]
    assert server.count("question 1") == 3


def test_client_errors_are_not_retried(serve):
    server = serve(lambda s, body: (400, {"error": {"message": "bad model"}}, 0))
    agent = OpenAIAgent("m", server.base_url, retries=3, backoff=0.01)
    assert agent.act(observations(1)) == [""]
    assert "HTTP 400" in agent.last_errors_[0] and "bad model" in agent.last_errors_[0]
    assert len(server.requests) == 1


def test_a_stalled_server_times_out_without_aborting_the_run(serve):
    def stall_one(server, body):
        if body["messages"][-1]["content"] == "question 2":
            return 200, completion("late"), None  # never answers
        return echo(server, body)

    server = serve(stall_one)
    agent = OpenAIAgent("m", server.base_url, timeout=0.3, retries=1, backoff=0.01)
    started = time.perf_counter()
    answers = agent.act(observations(4))
    elapsed = time.perf_counter() - started
    assert answers[2] == ""
    assert "timed out after 0.3s" in agent.last_errors_[2]
    assert [answers[i] for i in (0, 1, 3)] == [f"<think>read it</think><answer>question {i}</answer>"
                                               for i in (0, 1, 3)]
    assert server.count("question 2") == 2  # retried once
    assert elapsed < 3.0


def test_a_malformed_body_is_an_error_not_a_crash(serve):
    server = serve(lambda s, body: (200, b"<html>proxy error</html>", 0))
    agent = OpenAIAgent("m", server.base_url, retries=1, backoff=0.01)
    assert agent.act(observations(1)) == [""]
    assert "malformed response" in agent.last_errors_[0]


def test_nothing_listening_is_a_recorded_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = OpenAIAgent("m", f"http://127.0.0.1:{port}/v1", retries=1, backoff=0.01, timeout=2)
    assert agent.act(observations(2)) == ["", ""]
    assert all("connection error" in e for e in agent.last_errors_)


def test_parameters_are_validated_and_stored_as_given():
    agent = OpenAIAgent("org/model:tag", "http://localhost:8000/v1", max_concurrency=2)
    assert agent.get_params()["max_concurrency"] == 2
    assert agent.name == "openai:org/model:tag@http://localhost:8000/v1"
    assert agent.url == "http://localhost:8000/v1/chat/completions"
    assert agent.act([]) == []
    with pytest.raises(ValueError, match="base_url"):
        OpenAIAgent("m", "localhost:8000").act(observations(1))
    with pytest.raises(ValueError, match="max_concurrency"):
        OpenAIAgent("m", "http://x", max_concurrency=0).act(observations(1))
