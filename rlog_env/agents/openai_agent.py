"""A prompt-only agent over any OpenAI-compatible chat completions server.

vLLM, llama.cpp's server, Ollama, text-generation-inference and hosted APIs all serve
``POST {base_url}/chat/completions``::

    from rlog_env.agents.openai_agent import OpenAIAgent
    agent = OpenAIAgent("qwen2.5-7b-instruct", "http://localhost:8000/v1")
    answers = agent.act(observations)
    agent.last_errors_      # per answer: None, or why its request finally failed
    agent.last_usage_       # per answer: the server's token counts, when it reports them
    agent.last_latency_     # per answer: its request's own seconds (retries and waits included)
    agent.last_finish_reasons_  # per answer: the server's finish_reason ("stop", "length", ...)

- **Requests** carry the observation's chat messages (system + user), ``model``,
  ``temperature`` and ``max_tokens``; the answer is ``choices[0].message.content``.
- **Investigations** (observations with tools): with ``tool_calling="native"`` (default) the
  request carries ``tools`` (the environment's OpenAI schemas) and the conversation in OpenAI's
  form (assistant ``tool_calls``, ``tool`` messages with their ``tool_call_id``:
  :func:`~rlog_env.agents.base.openai_messages`); the server's ``tool_calls`` come back written as
  ``<tool_call>{…}</tool_call>`` after the message's text, the convention the environment
  reads. ``tool_calling="text"`` sends the conversation as text and no ``tools`` (tool results as user
  messages in ``<tool_response>``: :func:`~rlog_env.agents.base.text_messages`): the model
  writes ``<tool_call>`` itself, as the system message asks (for servers without tool calling).
- **The API key** is read from the environment variable ``api_key_env`` at each ``act`` and
  sent as ``Authorization: Bearer …``; it is never stored on the agent, so it appears in no
  ``repr``, parameter dump or log. No variable set (a local server): no header.
- **Concurrency** is bounded: at most ``max_concurrency`` requests are in flight (a thread pool).
- **Timeouts**: ``timeout`` seconds bound each attempt as a whole, from sending the request to
  the last byte of the answer (connecting, each socket operation): a server that never answers,
  or answers a byte at a time, is cut off at the deadline (a timer shuts the attempt's socket
  down) and costs at most that long.
- **Retries**: connection errors (refused, reset), timeouts, malformed bodies and HTTP
  408/409/425/429/5xx are retried up to ``retries`` times, so a request reaches the server at
  most ``retries + 1`` times; the wait is ``backoff * 2**attempt`` seconds (a little jitter
  added), or the ``Retry-After`` header's (seconds or an HTTP date) when it asks for longer, up
  to ``max_retry_wait`` seconds. Other HTTP errors (400, 401, 404, ...) are not retried. A
  body over 32 MiB is refused (not retried).
- **A request that finally fails never raises**: its answer is ``""`` and the reason goes to
  ``last_errors_[i]`` (the evaluation runner records it on the episode); the other answers of
  the batch are unaffected.

Standard library only (``urllib.request``, ``concurrent.futures``). Requests to a loopback
host bypass any ``http_proxy`` of the environment.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from rlog_env.agents.base import Observation, openai_messages, text_messages
from rlog_env.agents.transformers_agent import _Params
from rlog_env.tasks import FORMATS, THINK_FIRST

RETRY_HTTP_CODES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0  # the default of max_retry_wait
MAX_RESPONSE_BYTES = 32 << 20
USER_AGENT = "rlog_env-openai-agent/0.1"


class RequestFailed(Exception):
    """One attempt failed; ``retryable`` says whether another attempt may succeed."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class _Deadline:
    """Ends one attempt at its deadline: a timer shuts the attempt's socket down, which wakes
    a read blocked on it (per-operation socket timeouts alone let a server that sends a byte
    now and then hold a request for ever)."""

    def __init__(self, seconds: float):
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def finish(self) -> None:
        """The attempt is over: no shutdown after this returns (the socket may be reused)."""
        self._timer.cancel()
        with self._lock:
            self._done = True


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown, also for an SSL socket (whose own would drop its TLS
        # state under the reading thread).
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _WatchedOpen:
    """A handler mixin: every connection it opens is attached to the attempt's deadline."""

    def __init__(self, deadline: _Deadline, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        deadline = self.deadline

        def connection(*args, **kw):
            conn = http_class(*args, **kw)
            connect = conn.connect

            def watched_connect():
                connect()
                deadline.attach(conn.sock)

            conn.connect = watched_connect
            return conn

        return super().do_open(connection, req, **kwargs)


class _HTTPHandler(_WatchedOpen, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedOpen, urllib.request.HTTPSHandler):
    pass


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAIAgent(_Params):
    """Answers observations through an OpenAI-compatible server (see the module docstring)."""

    def __init__(self, model: str, base_url: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 reasoning: str = THINK_FIRST, max_concurrency: int = 8, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5, max_retry_wait: float = MAX_RETRY_AFTER,
                 temperature: float = 0.0, max_tokens: int = 512, name: str | None = None,
                 tool_calling: str = "native"):
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.reasoning = reasoning
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.name = name if name is not None else f"openai:{model}@{base_url}"
        self.tool_calling = tool_calling

    def fit(self, samples=None) -> "OpenAIAgent":
        """Prompt-only: nothing is learned."""
        return self

    def _validate(self) -> None:
        if self.reasoning not in FORMATS:
            raise ValueError(f"OpenAIAgent expects reasoning in {FORMATS}, got {self.reasoning!r}")
        scheme = urllib.parse.urlsplit(str(self.base_url)).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"OpenAIAgent expects an http(s) base_url such as http://localhost:8000/v1, "
                             f"got {self.base_url!r}")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise ValueError(f"OpenAIAgent expects max_concurrency >= 1, got {self.max_concurrency!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"OpenAIAgent expects retries >= 0, got {self.retries!r}")
        if not self.timeout > 0:
            raise ValueError(f"OpenAIAgent expects timeout > 0 seconds, got {self.timeout!r}")
        if not self.backoff >= 0:
            raise ValueError(f"OpenAIAgent expects backoff >= 0 seconds, got {self.backoff!r}")
        if not self.max_retry_wait >= 0:
            raise ValueError(f"OpenAIAgent expects max_retry_wait >= 0 seconds, got {self.max_retry_wait!r}")
        if self.tool_calling not in TOOL_CALLING:
            raise ValueError(f"OpenAIAgent expects tool_calling in {TOOL_CALLING}, got {self.tool_calling!r}")

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return str(self.base_url).rstrip("/") + "/chat/completions"

    # ----------------------------------------------------------------------------------------

    def act(self, observations: Sequence[Observation]) -> list[str]:
        """One answer per observation, in order; failures give ``""`` and an entry in ``last_errors_``."""
        self._validate()
        n = len(observations)
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        proxies = [urllib.request.ProxyHandler({})] if _is_loopback(self.url) else []
        answers: list[str] = [""] * n
        errors: list[str | None] = [None] * n
        usage: list[dict[str, int] | None] = [None] * n
        attempts: list[int] = [0] * n
        latency: list[float] = [0.0] * n
        finish: list[str | None] = [None] * n
        jitter = random.Random()
        jitter_lock = threading.Lock()

        def one(i: int) -> None:
            began = time.perf_counter()
            try:
                attempt_all(i)
            finally:  # this request's own time, retries and waits included
                latency[i] = time.perf_counter() - began

        def attempt_all(i: int) -> None:
            body = json.dumps(self._payload(observations[i])).encode("utf-8")
            for attempt in range(self.retries + 1):
                attempts[i] = attempt + 1
                try:
                    answers[i], usage[i], finish[i] = self._post(proxies, body, headers)
                    errors[i] = None
                    return
                except RequestFailed as failure:
                    errors[i] = f"{failure} (attempt {attempt + 1} of {self.retries + 1})"
                    if not failure.retryable or attempt == self.retries:
                        return
                    with jitter_lock:
                        factor = 1.0 + 0.25 * jitter.random()
                    delay = self.backoff * (2 ** attempt) * factor
                    if failure.retry_after is not None and failure.retry_after > delay:
                        delay = failure.retry_after
                    time.sleep(min(delay, self.max_retry_wait))
                except Exception as error:  # noqa: BLE001 - a request never aborts the run
                    errors[i] = f"{type(error).__name__}: {error}"
                    return

        if n:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, n),
                                    thread_name_prefix="rlog-openai") as pool:
                list(pool.map(one, range(n)))
        self.last_errors_ = errors
        self.last_usage_ = usage
        self.last_attempts_ = attempts
        self.last_latency_ = latency
        self.last_finish_reasons_ = finish
        return answers

    def _payload(self, observation: Observation) -> dict[str, Any]:
        native = self.tool_calling == "native" and bool(observation.tools)
        messages = (openai_messages if native else text_messages)(observation.messages)
        payload = {"model": self.model, "messages": messages or [{"role": "user", "content": observation.prompt}],
                   "temperature": self.temperature, "max_tokens": self.max_tokens}
        if native:
            payload["tools"] = [dict(tool) for tool in observation.tools]
        return payload

    def _post(self, proxies: list, body: bytes,
              headers: Mapping[str, str]) -> tuple[str, dict[str, int] | None, str | None]:
        """One attempt: the answer, its usage and the server's ``finish_reason``, or
        :class:`RequestFailed`."""
        deadline = _Deadline(self.timeout)
        opener = urllib.request.build_opener(*proxies, _HTTPHandler(deadline), _HTTPSHandler(deadline))
        request = urllib.request.Request(self.url, data=body, headers=dict(headers), method="POST")
        try:
            with opener.open(request, timeout=self.timeout) as response:
                raw = _read_limited(response)
        except urllib.error.HTTPError as error:
            failure = _http_failure(error)  # its body is read under the deadline too
            deadline.finish()
            raise failure from None
        except Exception as error:  # noqa: BLE001 - sorted out by _failure
            deadline.finish()
            raise self._failure(error, deadline.expired) from None
        deadline.finish()
        try:
            data = json.loads(raw)
            finish_reason = data["choices"][0].get("finish_reason")
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise TypeError("tool_calls is not a list")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise RequestFailed(f"malformed response: {raw[:200]!r}", True) from None
        if not isinstance(content, str):
            raise RequestFailed(f"malformed response: content is {type(content).__name__}", False)
        if calls:  # native tool calls, written in the text convention the environment reads
            content = content + "".join(_text_call(call) for call in calls)
        usage = data.get("usage")
        if isinstance(usage, Mapping):
            usage = {k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
                     if isinstance(usage.get(k), (int, float))} or None
        else:
            usage = None
        return content, usage, finish_reason if isinstance(finish_reason, str) else None


    def _failure(self, error: Exception, expired: bool) -> Exception:
        """What a failed attempt's exception means: retryable or not."""
        if expired:
            # Whatever the socket cut off at the deadline raised (a reset, a short read, ...).
            return RequestFailed(f"timed out after {self.timeout:g}s", True)
        if isinstance(error, RequestFailed):
            return error
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return RequestFailed(f"timed out after {self.timeout:g}s", True)
        if isinstance(reason, (http.client.HTTPException, OSError)):
            return RequestFailed(f"connection error: {type(reason).__name__}: {reason}", True)
        if isinstance(error, urllib.error.URLError):
            return RequestFailed(f"connection error: {reason}", True)
        return error


TOOL_CALLING = ("native", "text")

def _text_call(call: Any) -> str:
    """A native tool call as ``<tool_call>{"name": …, "arguments": …}</tool_call>`` (arguments as
    the server sent them: a JSON string is kept for the environment to read, or refuse)."""
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping):
        return f"<tool_call>{json.dumps({'malformed': str(call)[:200]})}</tool_call>"
    return "<tool_call>" + json.dumps({"name": function.get("name"), "arguments": function.get("arguments")}) \
        + "</tool_call>"


def _http_failure(error: urllib.error.HTTPError) -> RequestFailed:
    """An HTTP error status as a :class:`RequestFailed`, with the start of its body."""
    detail = ""
    try:
        detail = error.read(500).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the status says enough
        pass
    retry_after = _retry_after(error.headers.get("Retry-After") if error.headers else None)
    message = f"HTTP {error.code} {error.reason}" + (f": {detail[:200]}" if detail else "")
    return RequestFailed(message, error.code in RETRY_HTTP_CODES, retry_after)


def _read_limited(response) -> bytes:
    """The whole body, or :class:`RequestFailed` past :data:`MAX_RESPONSE_BYTES`."""
    chunks, size = [], 0
    while True:
        chunk = response.read(1 << 16)
        if not chunk:
            if getattr(response, "length", None):  # the connection ended before Content-Length
                raise http.client.IncompleteRead(b"".join(chunks), response.length)
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise RequestFailed(f"response larger than {MAX_RESPONSE_BYTES >> 20} MiB", False)
        chunks.append(chunk)
