"""A local webhook receiver: a real HTTP server on a TCP port that keeps every POST (for `wes bench webhooks`
and the tests). It can be switched off and on again on the same port, answer an error status, or hold
requests until told to answer."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the body was read
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def event_id(self) -> int:
        return int(self.headers["x-wes-event-id"])


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    receiver: "Receiver"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # (headers and body are two writes: Nagle + delayed ACK would add ~40 ms each)

    def do_POST(self) -> None:  # noqa: N802
        receiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received = Received(time.time(), {k.lower(): v for k, v in self.headers.items()}, body)
        receiver._arrived(received)
        receiver._release.wait()  # (held: the sender's request is in flight until released)
        status = receiver.status
        answer = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
        pass


class Receiver:
    """`start()` listens on 127.0.0.1 (a free port the first time, the same one after `stop()`)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.status = 200
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._release.set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/wes"

    def start(self) -> "Receiver":
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: new connections are refused (requests being answered finish)."""
        server, self._server = self._server, None
        if server is not None:
            self._release.set()
            server.shutdown()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def hold(self) -> None:
        """Requests arriving from now on wait for `release()` before they are answered."""
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _arrived(self, received: Received) -> None:
        with self._changed:
            self.received.append(received)
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float = 30.0) -> bool:
        """Wait until `condition(received)` holds (False after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
