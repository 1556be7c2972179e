"""A real SMTP server on loopback (aiosmtpd) for the mail flows, and a daphne that sends to it: the
test reads what the server received, as a person reads their inbox."""

import email
import queue
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import free_port

MAIL_TIMEOUT_SECONDS = 15.0  # the server sends from a background worker: the longest a mail may take
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/#(\S+))")


@dataclass
class Inbox:
    """What the SMTP server received, in order."""

    port: int
    received: "queue.Queue[Message]" = field(default_factory=queue.Queue)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.received.put(message)
        return "250 Message accepted"

    def next_mail(self, to: str) -> Message:
        """The next mail the server received; it must be for `to`."""
        try:
            message = self.received.get(timeout=MAIL_TIMEOUT_SECONDS)
        except queue.Empty:
            pytest.fail(f"no mail within {MAIL_TIMEOUT_SECONDS} s")
        assert message["X-Envelope-To"] == to
        return message

    def nothing_more(self) -> None:
        assert self.received.empty(), [m["Subject"] for m in list(self.received.queue)]


def body_of(message: Message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def link_of(message: Message) -> tuple[str, list[str]]:
    """The web client link in a mail and its fragment's parts ([reset-password, uid, token] or
    [verify-email, token])."""
    (found,) = LINK.findall(body_of(message))
    return found[0], found[1].split("/")


@pytest.fixture
def smtp_inbox() -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1 for this test."""
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def mailing_server(
    smtp_inbox: Inbox, server_env: dict[str, str], start_daphne: Callable[..., str], daphne_url: str
) -> str:
    """A daphne on the test database that mails through smtp_inbox (links lead back to it: no
    PUBLIC_BASE_URL, so they take the host the request came to)."""
    env = {**server_env, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_inbox.port), "EMAIL_TIMEOUT": "5"}
    env.pop("PUBLIC_BASE_URL", None)
    return start_daphne(env)
