"""A Web Push service on loopback, for the sender's end-to-end tests. It checks each request as a
real push service does and reads it as the browser would, with nothing of the sender's code:
the VAPID token (RFC 8292) is verified with PyJWT (ES256 against the key in `k=`, its aud, exp and
sub), and the body (RFC 8291 aes128gcm) is decrypted with http_ece using the subscription's own
private key and auth secret, made here as a browser makes them.

Each subscription has its own path; what the service answers to it is the test's choice
(`answer`): 201 after all checks by default, or any status with headers (410, 500, 429...). A
request that fails a check is answered 400 and its failure kept in `failures`."""

import base64
import contextlib
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

VAPID = re.compile(r"vapid t=(?P<t>[A-Za-z0-9_\-.]+),\s*k=(?P<k>[A-Za-z0-9_\-]+)")
MAX_JWT_SECONDS = 24 * 3600  # RFC 8292: exp no further than 24 hours ahead


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    """A subscription's secrets, as PushManager.subscribe makes them: a P-256 pair and 16 bytes."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    claims: dict[str, Any] | None = None  # the verified VAPID claims
    vapid_key: str = ""  # the k= parameter
    payload: Any = None  # the decrypted JSON
    plaintext: bytes = b""


@dataclass
class Answer:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    wait_for: threading.Event | None = None  # hold the answer until this is set (at most 10 s)


class PushService:
    def __init__(self) -> None:
        self.subscriptions: dict[str, tuple[BrowserKeys, Answer]] = {}
        self.received: list[Received] = []
        self.failures: list[str] = []
        self.origin = ""

    def subscribe(self, answer: Answer | None = None) -> tuple[str, BrowserKeys]:
        """A new subscription: its endpoint URL and the browser's keys."""
        path = f"/push/{b64url(os.urandom(12))}"
        keys = BrowserKeys()
        self.subscriptions[path] = (keys, answer or Answer())
        return self.origin + path, keys

    def check(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        """What a push service and then the browser do with a push; AssertionError if anything is off."""
        keys, _answer = self.subscriptions[path]
        received = Received(path, headers, body)
        match = VAPID.fullmatch(headers.get("authorization", ""))
        assert match, f"not a VAPID Authorization: {headers.get('authorization')!r}"
        received.vapid_key = match["k"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(match["k"]))
        assert jwt.get_unverified_header(match["t"]) == {"typ": "JWT", "alg": "ES256"}
        received.claims = jwt.decode(
            match["t"],
            public,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        assert received.claims["exp"] <= time.time() + MAX_JWT_SECONDS
        assert headers.get("content-encoding") == "aes128gcm"
        received.plaintext = http_ece.decrypt(
            body, private_key=keys.private_key, auth_secret=keys.auth, version="aes128gcm"
        )
        received.payload = json.loads(received.plaintext)
        return received


class _Handler(http.server.BaseHTTPRequestHandler):
    service: PushService

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        if self.path not in self.service.subscriptions:
            self._answer(404, {})
            return
        _keys, answer = self.service.subscriptions[self.path]
        if answer.wait_for is not None:
            answer.wait_for.wait(10)
        status = answer.status
        if status == 201:
            try:
                self.service.received.append(self.service.check(self.path, headers, body))
            except Exception as exc:  # the test asserts on failures
                self.service.failures.append(f"{type(exc).__name__}: {exc}")
                status = 400
        else:
            self.service.received.append(Received(self.path, headers, body))
        self._answer(status, answer.headers)

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        text = b"" if status < 300 else b"refused by the test push service"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the sender gave up waiting
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def running_push_service() -> Iterator[PushService]:
    """A push service listening on 127.0.0.1 (a thread per request), shut down afterwards."""
    service = PushService()
    handler = type("Handler", (_Handler,), {"service": service})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    service.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        httpd.shutdown()
        httpd.server_close()
