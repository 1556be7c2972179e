"""imsuite.outbound_http against a real loopback HTTP server, and the guard's refusals."""

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from imsuite.outbound import AddressNotAllowed
from imsuite.outbound_http import post


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers["Host"], dict(self.headers), body))
        status = 302 if self.path == "/moved" else 201
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("X-Answer", "yes")
        self.send_header("Content-Length", "40000")
        self.end_headers()
        self.wfile.write(b"x" * 40000)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_allowed(settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]


def test_a_post_reaches_the_checked_address_with_its_host(server, loopback_allowed):
    port = server.split(":")[1]
    answer = post(
        f"http://localhost:{port}/push/abc?x=1",
        b'{"a": 1}',
        {"Content-Type": "application/json"},
        5,
        max_answer_bytes=100,
    )
    assert (answer.status, answer.headers["x-answer"], answer.body) == (201, "yes", b"x" * 100)
    [(path, host, headers, body)] = Recorder.seen
    assert (path, host, headers["Content-Type"], body) == (
        "/push/abc?x=1",
        f"localhost:{port}",
        "application/json",
        b'{"a": 1}',
    )


def test_a_redirect_is_the_answer_never_followed(server, loopback_allowed):
    answer = post(f"http://{server}/moved", b"", {}, 5)
    assert answer.status == 302 and len(Recorder.seen) == 1


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://169.254.169.254/latest", "http://[::1]:9/x"]
)
def test_addresses_that_are_not_public_are_refused_before_connecting(settings, url, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(AddressNotAllowed):
        post(url, b"", {}, 5)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost", "file:///etc/passwd"])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(ValueError, match="http"):
        post(url, b"", {}, 5)


def test_a_closed_port_is_an_os_error(loopback_allowed):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        post(f"http://127.0.0.1:{port}/", b"", {}, 2)
