"""A push endpoint on loopback, a real HTTP server in a thread: it records every POST and answers
the status chosen for its path (200 unless set), after the delay chosen for it (the slow case)."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the JSON payload
    at: float  # time.monotonic() when it arrived


class Endpoint:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: dict[str, int] = {}
        self.delays: dict[str, float] = {}
        self._arrived = threading.Condition()
        self._closing = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with endpoint._arrived:
                    endpoint.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(body),
                            time.monotonic(),
                        )
                    )
                    endpoint._arrived.notify_all()
                endpoint._closing.wait(endpoint.delays.get(self.path, 0))
                self.send_response(endpoint.statuses.get(self.path, 200))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The requests once at least `count` have arrived (at most `timeout` s)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def to(self, path: str) -> list[Received]:
        with self._arrived:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._closing.set()  # a slow answer goes at once
        self.server.shutdown()
        self.server.server_close()
