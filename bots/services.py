"""Changes to bots' reverse endpoints (by the bot's owner, or a moderator), and the record of
bots' connections the operator reads (forward connections, the bridge's state of each endpoint)."""

from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import access_own_bot, is_moderator
from accounts.models import User
from accounts.services import connection_closed, connection_opened
from imsuite import audit, outbound
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error

from .dialect_names import DEFAULT as DEFAULT_DIALECT
from .dialect_names import NAMES as DIALECT_NAMES
from .models import BotConnection, ReverseEndpoint
from .selectors import live_connections

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
    *, actor: User, bot_id: int, url: str, access_token: str = "", dialect: str = DEFAULT_DIALECT
) -> ReverseEndpoint:
    """Register a bot backend that `runbots` connects to (within a few seconds, without a restart)."""
    bot = access_bot(actor, bot_id)
    url = _check_url(url)
    if dialect not in DIALECT_NAMES:
        raise validation_error(
            "dialect", "unknown_dialect", f"Unknown dialect; one of: {', '.join(DIALECT_NAMES)}."
        )
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
    """Keep why the bridge's last connection attempt failed, for the operator."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(
        last_error=error[:500], last_error_at=timezone.now()
    )


def reverse_endpoint_connected(*, endpoint_id: int, connected: bool) -> None:
    """The bridge connected to the endpoint (no error any more, connected since now), or the
    connection ended."""
    if connected:
        now = timezone.now()
        changes = {"connected_at": now, "alive_at": now, "last_error": "", "last_error_at": None}
    else:
        changes = {"connected_at": None, "alive_at": None}
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(**changes)


def reverse_endpoint_alive(*, endpoint_id: int) -> None:
    """The bridge's connection to the endpoint is still open (bots.selectors.endpoint_connected)."""
    ReverseEndpoint.objects.filter(pk=endpoint_id, connected_at__isnull=False).update(alive_at=timezone.now())


def reverse_endpoint_complained(*, endpoint_id: int, text: str) -> None:
    """Keep the last frame the backend sent that IM-Suite could not use, for the operator."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(
        last_complaint=text[:500], last_complaint_at=timezone.now()
    )


def reverse_endpoint_received(*, endpoint_id: int, cursor: int) -> None:
    """Keep the cursor of the last event the backend acknowledged: its next connection resumes there."""
    ReverseEndpoint.objects.filter(pk=endpoint_id).update(last_cursor=cursor)


def reverse_endpoint_delete(*, actor: User, bot_id: int, endpoint_id: int) -> None:
    """By the bot's owner, or a moderator (audited)."""
    bot = access_bot(actor, bot_id)
    with transaction.atomic():
        deleted, _ = ReverseEndpoint.objects.filter(pk=endpoint_id, bot=bot).delete()
        if not deleted:
            raise not_found("Reverse endpoint")
        if bot.owner_id != actor.pk:
            audit.record(actor, "reverse_endpoint.delete", "reverse_endpoint", endpoint_id, bot_id=bot.pk)


def forward_connection_opened(*, bot: User, connection: str, dialect: str, address: str) -> None:
    """A forward connection opened: the bot's presence (accounts.services.connection_opened), then
    its row, which replaces those of the bot's connections whose lease is gone (a killed process's)."""
    connection_opened(actor=bot, connection=connection)
    try:
        live = live_connections(bot.pk)
        with transaction.atomic():
            BotConnection.objects.filter(bot=bot).exclude(connection__in=live).delete()
            BotConnection.objects.create(
                bot=bot, connection=connection, dialect=dialect, address=address[:100]
            )
    except Exception:
        connection_closed(actor=bot, connection=connection)  # never opened, as connection_opened does
        raise


def forward_connection_closed(*, bot: User, connection: str) -> None:
    """A forward connection closed: its presence lease goes first (a row left behind by a failure
    here reads as gone), then its row."""
    connection_closed(actor=bot, connection=connection)
    BotConnection.objects.filter(connection=connection).delete()


def forward_connection_complained(*, connection: str, text: str) -> None:
    """Keep the last frame the connection sent that IM-Suite could not use, for the operator."""
    BotConnection.objects.filter(connection=connection).update(
        last_complaint=text[:500], last_complaint_at=timezone.now()
    )
