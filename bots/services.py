"""Changes to bots' reverse endpoints: by the bot's owner, or a moderator."""

from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import access_own_bot, is_moderator
from accounts.models import User
from imsuite import outbound
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error

from . import dialects
from .models import ReverseEndpoint

MAX_ENDPOINTS_PER_BOT = 5


def access_bot(actor: User, bot_id: int) -> User:
    if is_moderator(actor):
        bot = User.objects.filter(pk=bot_id, is_bot=True).first()
        if bot is None:
            raise not_found("Bot")
        return bot
    return access_own_bot(actor, bot_id)


def endpoint_address(url: str) -> tuple[str, int]:
    """The host and port a ws:// or wss:// URL connects to."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)


def _check_url(url: str) -> str:
    """A ws:// or wss:// URL to an address the outbound guard allows. A name that does not resolve
    (yet) is accepted: the bridge checks the address again before every connection anyway."""
    url = url.strip()
    try:
        scheme, (host, port) = urlsplit(url).scheme, endpoint_address(url)
        host.encode("idna")
    except ValueError as exc:  # a bad port, a bracketed host that is no IPv6 address, a bad name
        raise validation_error("url", "format", "This is not a valid URL.") from exc
    if scheme not in ("ws", "wss") or not host:
        raise validation_error("url", "scheme", "A reverse endpoint is a ws:// or wss:// URL.")
    try:
        outbound.check_host(host, port)
    except outbound.AddressNotAllowed as exc:
        raise validation_error("url", outbound.REASON, str(exc)) from exc
    except OSError:  # does not resolve (yet): the bridge checks again, and says why it cannot connect
        pass
    return url


def reverse_endpoint_create(
    *, actor: User, bot_id: int, url: str, access_token: str = "", dialect: str = dialects.DEFAULT
) -> ReverseEndpoint:
    """Register a bot backend that `runbots` connects to (within a few seconds, without a restart)."""
    bot = access_bot(actor, bot_id)
    url = _check_url(url)
    dialect = dialects.get(dialect).name
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=bot.pk).first()
            if ReverseEndpoint.objects.filter(bot=bot).count() >= MAX_ENDPOINTS_PER_BOT:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"A bot has at most {MAX_ENDPOINTS_PER_BOT} reverse endpoints.",
                    {"reason": "endpoint_limit", "limit": MAX_ENDPOINTS_PER_BOT},
                )
            return ReverseEndpoint.objects.create(
                bot=bot, url=url, access_token=access_token or "", dialect=dialect
            )
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "This endpoint is registered already.", {"reason": "duplicate"}
        ) from exc


def reverse_endpoint_attempted(*, endpoint_id: int, error: str) -> None:
    """Keep why the bridge's last connection attempt failed, or "" once one opened, for the operator."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(
        last_error=error[:500], last_error_at=timezone.now() if error else None
    )


def reverse_endpoint_complained(*, endpoint_id: int, text: str) -> None:
    """Keep the last frame the backend sent that IM-Suite could not use, for the operator."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(
        last_complaint=text[:500], last_complaint_at=timezone.now()
    )


def reverse_endpoint_received(*, endpoint_id: int, cursor: int) -> None:
    """Keep the cursor of the last event the backend acknowledged: its next connection resumes there."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(last_cursor=cursor)


def reverse_endpoint_delete(*, actor: User, bot_id: int, endpoint_id: int) -> None:
    bot = access_bot(actor, bot_id)
    deleted, _ = ReverseEndpoint.objects.filter(pk=endpoint_id, bot=bot).delete()
    if not deleted:
        raise not_found("Reverse endpoint")
