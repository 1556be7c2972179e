"""HTTP requests the server makes for a user or a bot (push endpoints, link previews), through
the one address guard (imsuite.outbound).

The host is resolved once and every answer checked; the connection goes to exactly a checked
address, with the original name in the Host header and in TLS (SNI and certificate checks), so a
rebinding DNS server cannot swap the address between the check and the connection. Redirects are
never followed here (a 3xx is the answer; a caller that follows one calls again, so the new
address is checked too), and only the first `max_answer_bytes` of an answer are read.
Blocking: call it from a worker thread, never on the event loop."""

import contextlib
import http.client
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from .ip_networks import IPAddress
from .outbound import check_host

DEFAULT_MAX_ANSWER_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to one checked address, named by its host."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.ip), self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.ip = ip

    def connect(self) -> None:
        raw = socket.create_connection((str(self.ip), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
) -> Answer:
    """POST `body` to an http(s) URL. Raises ValueError for a URL that is not http(s) with a host,
    imsuite.outbound.AddressNotAllowed for a refused address, OSError (socket.timeout included) and
    http.client.HTTPException for a connection or protocol failure."""
    return request("POST", url, headers, timeout, max_answer_bytes, body)


def request(
    method: str,
    url: str,
    headers: dict[str, str],
    timeout: float,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    body: bytes | None = None,
) -> Answer:
    """One request to an http(s) URL through the address guard, raising as `post` does. `timeout`
    bounds the whole exchange, not each read: a server that trickles its answer a byte at a time
    is cut off at the deadline (TimeoutError), as is one that never answers."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("only http(s) URLs with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = check_host(parts.hostname, port)
    connection_class = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    failure: OSError | None = None
    for ip in addresses:  # the first checked address that accepts the connection
        connection = connection_class(parts.hostname, port, ip, timeout)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            failure = exc
            continue
        deadline = _Deadline(connection, timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = _read_upto(response, max_answer_bytes)
            deadline.check()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, answer)
        except (OSError, http.client.HTTPException):
            deadline.check()  # a read cut short by the deadline is a timeout, whatever it raised
            raise
        finally:
            deadline.cancel()
            connection.close()
    raise failure or OSError(f"{parts.hostname} has no address")


def _read_upto(response: http.client.HTTPResponse, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = response.read1(min(CHUNK_BYTES, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _Deadline:
    """Shuts the connection's socket down when the time is up, which ends any read under way. The
    socket is taken at the start: http.client lets go of it (connection.sock = None) as soon as an
    answer without a length arrives, while the answer keeps reading from it."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.expired = False
        self._sock = connection.sock
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        with contextlib.suppress(OSError):  # already closed
            self._sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        if self.expired:
            raise TimeoutError("timed out: the whole answer took longer than the time limit")

    def cancel(self) -> None:
        self._timer.cancel()
