"""The loopback mirror: a real HTTP server that plays GitHub's raw file host.

It serves ``/{repo}/{commit}/{upstream path}`` from the local copy of each manifest row in the
data directory (shared/data), and can be told to break a file in the ways networks and mirrors
do: truncate it, corrupt a byte, stall, answer 404 or 503. Files the manifest lists but the data
directory lacks (HealthApp, Mac, OpenSSH, Proxifier, loglm/test_set) are answered 404, as a
mirror without them would.

The ``mirror`` fixture serves the tests in this folder; :func:`serve_mirror` is the same server
as a context manager, for tests elsewhere (tests/test_cli.py loads this file by path).
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from rlog_env.datasets.download import manifest


class Mirror:
    """Serves manifest rows from ``data_dir``; ``faults[manifest path]`` breaks one file."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.routes = {f"/{e.repo}/{e.commit}/{e.upstream_path}": e for e in manifest()}
        self.faults: dict[str, dict] = {}
        self.requests: Counter[str] = Counter()
        self.raw_paths: list[str] = []
        self.stop = threading.Event()
        self.url = ""


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

        def do_GET(self):
            mirror.raw_paths.append(self.path)
            entry = mirror.routes.get(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path))
            local = mirror.data_dir / entry.path if entry else None
            if entry is None or not local.is_file():
                self.send_error(404, "Not Found")
                return
            mirror.requests[entry.path] += 1
            fault = mirror.faults.get(entry.path, {})
            if fault.get("times") is not None and mirror.requests[entry.path] > fault["times"]:
                fault = {}  # a transient fault: only the first `times` requests see it
            if "status" in fault:
                self.send_error(fault["status"])
                return
            body = local.read_bytes()
            length = len(body)
            if "corrupt" in fault:
                i = fault["corrupt"]
                body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
            if "extra" in fault:
                body += fault["extra"]
                length = len(body)
            if "truncate" in fault:
                body = body[:fault["truncate"]]
                if fault.get("lie"):  # the Content-Length agrees with the short body
                    length = len(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if not fault.get("no_length"):
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if "stall_after" in fault:
                self.wfile.write(body[:fault["stall_after"]])
                self.wfile.flush()
                mirror.stop.wait(10)  # far past the client's timeout; released at teardown
                return
            self.wfile.write(body)
            self.close_connection = True

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up: expected here
        pass


@contextlib.contextmanager
def serve_mirror(data_dir: Path) -> Iterator[Mirror]:
    """Run the mirror on a free loopback port for the ``with`` block; ``.url`` is its base URL."""
    state = Mirror(data_dir)
    server = _Server(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def mirror(data_dir):
    with serve_mirror(data_dir) as state:
        yield state
