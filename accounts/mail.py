"""Mail to people (address verification, password reset), sent by a small background pool: the
request that asked for a mail never waits on the SMTP server (a slow one would hold it, and the
time taken would tell a reset requester whether the account exists). Each send gives up after
EMAIL_TIMEOUT seconds; a failure is logged, and the person asks again."""

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)
SENDERS = 2  # mails are rare; a burst waits its turn rather than opening many SMTP connections

_pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="mail")
_pending: set[Future] = set()


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def public_link(fragment: str, request_base: str) -> str:
    """A link into the web client: PUBLIC_BASE_URL when set (it should be, in production: the
    request's own host is only as trustworthy as ALLOWED_HOSTS), else the host the request came to.
    What the client needs goes in the fragment, which browsers never send to a server or a referrer."""
    base = settings.PUBLIC_BASE_URL or request_base.rstrip("/")
    return f"{base}/#{fragment}"


def _deliver(mail: Mail) -> None:
    try:
        send_mail(mail.subject, mail.body, None, [mail.to])
    except Exception:
        logger.exception("could not send %r to %s", mail.subject, mail.to)


def send_after_commit(mail: Mail) -> None:
    """Queue the mail once the change that calls for it is committed (never for a rolled back one)."""

    def submit() -> None:
        future = _pool.submit(_deliver, mail)
        _pending.add(future)
        future.add_done_callback(_pending.discard)

    transaction.on_commit(submit)


def wait_until_sent(timeout: float = 30.0) -> None:
    """Wait for the mails queued so far (tests, and a process that is shutting down)."""
    wait(list(_pending), timeout=timeout)
